//! docs/api.md's examples are accepted as written, one per channel kind and type, and the
//! refusals a newcomer meets say what to do (issue 18).

mod common;

use std::collections::BTreeSet;

use common::{every_channel, with_every_channel, Backend};
use notify_channels::targets;
use serde_json::{json, Value};

const GUIDE: &str = include_str!("../../../docs/api.md");

/// The bodies of the guide's ```` ```json example ```` blocks.
fn examples() -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = GUIDE;
    while let Some(start) = rest.find("```json example\n") {
        let body = &rest[start + "```json example\n".len()..];
        let end = body.find("\n```").expect("an example block is closed");
        let text = &body[..end];
        out.push(
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("docs/api.md example is not JSON ({e}):\n{text}")),
        );
        rest = &body[end..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_of_the_guide_is_accepted() {
    with_every_channel(Backend::Sqlite, |app| async move {
        let list = examples();
        assert!(list.len() > 20, "only {} examples found", list.len());
        for example in list {
            let a = app.post(&example).await;
            assert_eq!(a.status, 202, "{example}\n→ {}", a.text);
            for (i, t) in example["targets"].as_array().unwrap().iter().enumerate() {
                if let Some(declared) = t["type"].as_str() {
                    assert_eq!(a.body["deliveries"][i]["type"], declared, "{example}");
                }
            }
        }
    })
    .await;
}

#[test]
fn the_guide_has_an_example_for_every_kind_and_type() {
    let channels = every_channel();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for example in examples() {
        for t in example["targets"].as_array().unwrap() {
            let name = t["channel"].as_str().unwrap();
            let handle = channels
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("the guide uses channel {name:?}"));
            let kind = handle.kind().as_str().to_string();
            seen.insert((kind.clone(), t["type"].as_str().unwrap_or("").to_string()));
        }
    }
    for kind in targets::KINDS {
        let spec = targets::spec(kind);
        if spec.types.is_empty() {
            assert!(
                seen.iter().any(|(k, _)| k == kind.as_str()),
                "no example for {kind}"
            );
        }
        for t in spec.types {
            assert!(
                seen.contains(&(kind.as_str().to_string(), t.to_string())),
                "docs/api.md has no example of {kind} type {t}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_target_field_names_the_right_one() {
    with_every_channel(Backend::Sqlite, |app| async move {
        let a = app
            .post(&json!({"title": "t", "content": "c",
                "targets": [{"channel": "workid", "users": ["zhangsan"]}]}))
            .await;
        assert_eq!(a.status, 422, "{}", a.text);
        assert_eq!(a.field(), "targets[0].users");
        assert_eq!(
            a.body["error"]["message"],
            "wecom_workid channels take `work_ids`, not `users`"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_channel_lists_the_configured_ones() {
    with_every_channel(Backend::Sqlite, |app| async move {
        let a = app
            .post(&json!({"title": "t", "targets": [{"channel": "welnk", "users": ["a"]}]}))
            .await;
        assert_eq!(a.status, 422, "{}", a.text);
        assert_eq!(a.code(), "unknown_channel");
        let message = a.body["error"]["message"].as_str().unwrap();
        for name in [
            "\"welink\" (welink)",
            "\"workid\" (wecom_workid)",
            "\"juzi\" (juzi)",
        ] {
            assert!(message.contains(name), "{message}");
        }
    })
    .await;
}
