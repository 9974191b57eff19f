//! The checks `plan()` makes, each naming its field (relative to the target, or `/field` for
//! the message).

use notify_core::ChannelKind::{Juzi, WecomApp, WecomWorkid, Welink, Xiaowei};
use serde_json::json;

use super::common::{plan, plan_err};

#[test]
fn unknown_types_name_type() {
    for (kind, t) in [
        (Welink, "textcard"),
        (WecomApp, "card"),
        (WecomWorkid, "video"),
        (Juzi, "card"),
        (Xiaowei, "card"),
    ] {
        let e = plan_err(
            kind,
            json!({"title": "t", "targets": [
            {"channel": "c", "type": t, "users": ["a"], "work_ids": ["a"], "chat_id": "c"}]}),
        );
        // The foreign-field check may come first for some kinds; the type check must name `type`
        // when the recipients are right.
        assert!(
            e.field == "type" || e.code == "not_supported",
            "{kind:?}: {e:?}"
        );
    }
    let e = plan_err(
        Welink,
        json!({"title": "t", "targets": [{"channel": "c", "type": "x", "users": ["a"]}]}),
    );
    assert_eq!(
        (e.field.as_str(), e.code.as_str()),
        ("type", "unknown_type")
    );
}

#[test]
fn recipients_are_required() {
    for (kind, field) in [
        (Welink, "users"),
        (Xiaowei, "users"),
        (WecomApp, "users"),
        (WecomWorkid, "work_ids"),
        (Juzi, "chat_id"),
    ] {
        let e = plan_err(kind, json!({"title": "t", "targets": [{"channel": "c"}]}));
        assert_eq!(e.field, field, "{kind:?}");
    }
    let e = plan_err(
        Welink,
        json!({"title": "t", "targets": [{"channel": "c", "users": ["a", " "]}]}),
    );
    assert_eq!(e.field, "users[1]");
}

#[test]
fn foreign_target_fields_are_refused() {
    let e = plan_err(
        Welink,
        json!({"title": "t", "targets": [{"channel": "c", "users": ["a"], "parties": ["2"]}]}),
    );
    assert_eq!(
        (e.field.as_str(), e.code.as_str()),
        ("parties", "not_supported")
    );
    let e = plan_err(
        WecomApp,
        json!({"title": "t", "targets": [{"channel": "c", "users": ["a"], "company_id": "x"}]}),
    );
    assert_eq!(e.field, "company_id");
}

#[test]
fn welink_required_fields() {
    let t = json!([{"channel": "c", "users": ["a"]}]);
    let cases = [
        (
            json!({"title": "t", "targets": [{"channel": "c", "users": ["a"], "type": "image"}]}),
            "/image_url",
        ),
        (
            json!({"title": "t", "targets": [{"channel": "c", "users": ["a"], "type": "news"}]}),
            "/articles",
        ),
        (
            json!({"title": "t", "fields": [{"key": "k", "value": "v"}], "targets": t}),
            "/url",
        ),
        (
            json!({"content": "c", "url": "https://x", "targets": [{"channel": "c", "users": ["a"], "type": "app_card"}]}),
            "/title",
        ),
        (
            json!({"title": "t", "url": "https://x", "targets": [{"channel": "c", "users": ["a"], "type": "app_card"}]}),
            "/fields",
        ),
        (
            json!({"title": "t", "url": "https://x", "fields": (0..6).map(|i| json!({"key": format!("k{i}"), "value": "v"})).collect::<Vec<_>>(), "targets": t}),
            "/fields",
        ),
        (
            json!({"articles": [{"title": "a", "url": "https://x"}], "targets": t}),
            "/articles[0].image_url",
        ),
        (
            json!({"image_url": "https://x/a.png", "state": {"zh": "待处理", "en": "pending"}, "targets": t}),
            "/state",
        ),
    ];
    for (m, field) in cases {
        assert_eq!(plan_err(Welink, m.clone()).field, field, "{m}");
    }
}

#[test]
fn welink_card_needs_an_owner_somewhere() {
    let mut c = super::common::config(Welink);
    c.owner = None;
    let ch = notify_channels::build_channel("w", &c).unwrap();
    let e = super::common::plan_on(
        &ch,
        json!({"title": "t", "targets": [{"channel": "c", "users": ["a"]}]}),
    )
    .unwrap_err();
    assert_eq!(e.field, "/owner");
    assert!(super::common::plan_on(
        &ch,
        json!({"title": "t", "owner": "Ops", "targets": [{"channel": "c", "users": ["a"]}]})
    )
    .is_ok());
}

#[test]
fn welink_type_selection() {
    let t = json!([{"channel": "c", "users": ["a"]}]);
    let cases = [
        (json!({"title": "t", "targets": t}), "card"),
        (
            json!({"title": "t", "image_url": "https://x/a.png", "targets": t}),
            "card",
        ),
        (
            json!({"image_url": "https://x/a.png", "targets": t}),
            "image",
        ),
        (
            json!({"title": "t", "url": "https://x", "fields": [{"key": "k", "value": "v"}], "targets": t}),
            "app_card",
        ),
        (
            json!({"title": "t", "url": "https://x", "buttons": [{"title": "b", "url": "https://x"}], "content": "c", "targets": t}),
            "app_card",
        ),
        (
            json!({"title": "t", "articles": [{"title": "a", "url": "https://x", "image_url": "https://x/i.png"}], "targets": t}),
            "news",
        ),
    ];
    for (m, want) in cases {
        assert_eq!(plan(Welink, m.clone()).native_type, want, "{m}");
    }
}

#[test]
fn wecom_type_selection() {
    let t = json!([{"channel": "c", "users": ["a"], "work_ids": ["a"]}]);
    let cases = [
        (json!({"title": "t", "targets": t}), "text"),
        (
            json!({"title": "t", "url": "https://x", "targets": t}),
            "textcard",
        ),
        (
            json!({"content": "c", "format": "markdown", "targets": t}),
            "markdown",
        ),
        (
            json!({"image_url": "https://x/a.png", "targets": t}),
            "image",
        ),
        (
            json!({"title": "t", "url": "https://x", "image_url": "https://x/a.png", "targets": t}),
            "news",
        ),
        (
            json!({"title": "t", "file_url": "https://x/a.pdf", "targets": t}),
            "file",
        ),
        (
            json!({"articles": [{"title": "a", "url": "https://x"}], "targets": t}),
            "news",
        ),
    ];
    for (m, want) in cases {
        let mut m2 = m.clone();
        m2["targets"] = json!([{"channel": "c", "users": ["a"]}]);
        assert_eq!(plan(WecomApp, m2).native_type, want, "{m}");
    }
    // The work-ID platform sends pictures only as titled news items.
    let e = plan_err(
        WecomWorkid,
        json!({"image_url": "https://x/a.png", "targets": [{"channel": "c", "work_ids": ["a"]}]}),
    );
    assert_eq!(e.field, "/title");
}

#[test]
fn juzi_checks() {
    let e = plan_err(
        Juzi,
        json!({"title": "t", "targets": [{"channel": "j", "chat_id": "c", "contact_id": "d"}]}),
    );
    assert_eq!(e.field, "contact_id");
    let e = plan_err(
        Juzi,
        json!({"title": "t", "targets": [{"channel": "j", "chat_id": "c", "type": "miniprogram"}]}),
    );
    assert_eq!(e.field, "raw");
    let e = plan_err(
        Juzi,
        json!({"title": "t", "targets": [{"channel": "j", "chat_id": "c", "type": "image"}]}),
    );
    assert_eq!(e.field, "/image_url");
    let p = plan(
        Juzi,
        json!({"title": "t", "targets": [{"channel": "j", "chat_id": "c"}]}),
    );
    assert!(p.awaiting_agent && p.parts.is_empty());
    assert_eq!(p.context["chat_id"], "c");
}
