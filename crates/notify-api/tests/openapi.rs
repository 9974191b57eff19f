//! `/openapi.json` describes the message, its targets per channel kind, every answer and every
//! error code, and a real OpenAPI validator accepts it (issue 18).

mod common;

use std::path::PathBuf;
use std::process::Command;

use axum::body::Body;
use axum::http::Request;
use common::{with_app, Backend, TestApp};
use notify_api::openapi::target_schema_name;
use notify_channels::targets;
use serde_json::Value;

async fn document(app: &TestApp) -> Value {
    let a = app
        .call(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body
}

/// `openapi-spec-validator`: `$OPENAPI_SPEC_VALIDATOR`, else the venv scripts/test makes under
/// target/, else the PATH.
fn validator() -> PathBuf {
    if let Some(p) = std::env::var_os("OPENAPI_SPEC_VALIDATOR") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/openapi-venv/bin/openapi-spec-validator");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("openapi-spec-validator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_passes_an_openapi_validator() {
    with_app(Backend::Sqlite, |app| async move {
        let doc = document(&app).await;
        let dir = notify_testkit::scratch_dir("openapi");
        let file = dir.join("openapi.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let tool = validator();
        let out = Command::new(&tool).arg(&file).output().unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}). Install it as scripts/test does: python3 -m venv \
                 target/openapi-venv && target/openapi-venv/bin/pip install openapi-spec-validator",
                tool.display()
            )
        });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "the validator refuses /openapi.json:\n{text}"
        );
        assert!(text.contains("OK"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_body_is_described_field_by_field() {
    with_app(Backend::Sqlite, |app| async move {
        let doc = document(&app).await;
        let body = &doc["paths"]["/v1/messages"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        assert_eq!(body["$ref"], "#/components/schemas/MessageInput", "{body}");
        let schemas = &doc["components"]["schemas"];
        let message = &schemas["MessageInput"];
        for field in [
            "title",
            "content",
            "targets",
            "priority",
            "buttons",
            "expires_at",
        ] {
            assert!(
                message["properties"][field].is_object(),
                "MessageInput.{field}"
            );
        }
        let target = &schemas["TargetInput"]["properties"];
        for field in [
            "channel",
            "type",
            "users",
            "departments",
            "roles",
            "parties",
            "tags",
            "work_ids",
            "company_id",
            "chat_id",
            "contact_id",
            "bot_id",
            "safe",
            "raw",
        ] {
            assert!(target[field].is_object(), "TargetInput.{field}");
        }
        let text = doc.to_string();
        assert!(
            !text.contains("CONTRACT"),
            "the document names a file not in the repository"
        );
        // Every answer has its schema: the message read, the list and the batch items.
        let one = &doc["paths"]["/v1/messages/{id}"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"];
        assert_eq!(one["$ref"], "#/components/schemas/MessageView");
        for name in [
            "MessageView",
            "DeliveryView",
            "PartView",
            "AttemptView",
            "FailedRecipient",
        ] {
            assert!(schemas[name]["properties"].is_object(), "{name}");
        }
        assert_eq!(
            schemas["MessageStatus"]["enum"],
            serde_json::json!([
                "accepted",
                "sent",
                "partially_sent",
                "failed",
                "expired",
                "recalled",
                "suppressed"
            ])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_channel_kind_has_its_target_schema() {
    with_app(Backend::Sqlite, |app| async move {
        let doc = document(&app).await;
        let schemas = &doc["components"]["schemas"];
        for kind in targets::KINDS {
            let name = target_schema_name(kind);
            let s = &schemas[&name];
            let spec = targets::spec(kind);
            let props: Vec<&str> = s["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} missing"))
                .keys()
                .map(String::as_str)
                .collect();
            for f in spec.fields {
                assert!(props.contains(f), "{name} lacks {f}");
            }
            let types: Vec<&str> = s["properties"]["type"]["enum"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert_eq!(types, spec.types, "{name}");
            assert_eq!(s["additionalProperties"], false, "{name}");
        }
        let general = schemas["TargetInput"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            general.contains(
                "- `wecom_workid`: `work_ids`, `company_id`, `safe`, `raw`; `type` text,"
            ),
            "{general}"
        );
        let workid = &schemas["WecomWorkidTarget"]["properties"];
        assert!(workid["work_ids"].is_object() && workid["users"].is_null());
        // `raw` is an object, and for Juzi also a list of SendParams.
        assert_eq!(workid["raw"]["type"], "object");
        let juzi_raw = &schemas["JuziTarget"]["properties"]["raw"]["oneOf"];
        assert_eq!(juzi_raw[1]["type"], "array", "{juzi_raw}");
        assert!(schemas["LogTarget"]["properties"]["raw"].is_null());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_code_is_documented() {
    with_app(Backend::Sqlite, |app| async move {
        let doc = document(&app).await;
        let code = doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for (status, c, _) in notify_api::error::ERROR_CODES {
            assert!(code.contains(&format!("{status} `{c}`")), "{c}: {code}");
        }
        for (c, _) in notify_core::error::FIELD_CODES {
            assert!(code.contains(&format!("422 `{c}`")), "{c}: {code}");
        }
    })
    .await;
}
