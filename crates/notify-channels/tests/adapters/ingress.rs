//! The checks `plan()` makes, each naming its field (relative to the target, or `/field` for
//! the message).

use notify_core::ChannelKind::{Juzi, WecomApp, WecomWorkid, Welink, Xiaowei};
use serde_json::json;

use super::common::{build_with, config, plan, plan_err, plan_on};

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

#[test]
fn wecom_ids_cannot_hold_the_list_separator() {
    let cases = [
        (WecomApp, json!({"users": ["a", "b|c|d"]}), "users[1]"),
        (
            WecomApp,
            json!({"users": ["a"], "parties": ["2|3"]}),
            "parties[0]",
        ),
        (
            WecomApp,
            json!({"users": ["a"], "tags": ["7", "|"]}),
            "tags[1]",
        ),
        (WecomWorkid, json!({"work_ids": ["ww1|ww2"]}), "work_ids[0]"),
    ];
    for (kind, target, field) in cases {
        let mut t = target.clone();
        t["channel"] = json!("c");
        let e = plan_err(kind, json!({"title": "t", "targets": [t]}));
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            (field, "invalid"),
            "{kind:?} {target}"
        );
    }
}

#[test]
fn wecom_at_all_needs_the_channel_to_allow_it() {
    let all = json!({"title": "t", "targets": [{"channel": "c", "users": ["@all"]}]});
    let e = plan_err(WecomApp, all.clone());
    assert_eq!(
        (e.field.as_str(), e.code.as_str()),
        ("users[0]", "not_allowed")
    );
    let e = plan_err(
        WecomWorkid,
        json!({"title": "t", "targets": [{"channel": "c", "work_ids": ["ww1", "@all"]}]}),
    );
    assert_eq!(e.field, "work_ids[1]");

    let mut c = config(WecomApp);
    c.allow_all = true;
    let ch = build_with(WecomApp, c);
    let p = plan_on(&ch, all).unwrap();
    assert_eq!(p.parts.len(), 1);
    assert_eq!(p.parts[0].body["touser"], "@all");
    // Where it is allowed it is the only recipient: WeCom ignores every other id beside it.
    for target in [
        json!({"channel": "c", "users": ["a", "@all"]}),
        json!({"channel": "c", "users": ["@all"], "parties": ["2"]}),
    ] {
        let e = plan_on(&ch, json!({"title": "t", "targets": [target]})).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            (
                if target["users"][0] == "a" {
                    "users[1]"
                } else {
                    "users[0]"
                },
                "invalid"
            ),
            "{target}"
        );
    }
}

#[test]
fn wecom_links_are_http_or_https() {
    let app = json!([{"channel": "c", "users": ["a"]}]);
    let workid = json!([{"channel": "c", "work_ids": ["ww1"]}]);
    let cases = [
        // textcard: the message's url, else the first button's.
        (json!({"title": "t", "url": "h5://demo.com"}), "/url"),
        (
            json!({"title": "t", "buttons": [{"title": "b", "url": "h5://demo.com/b"}], "targets": [{"channel": "c", "users": ["a"], "work_ids": ["ww1"], "type": "textcard"}]}),
            "/buttons[0].url",
        ),
        // news: each article's url, or the message's for the one-article form.
        (
            json!({"articles": [{"title": "a", "url": "https://x", "image_url": "https://x/a.png"},
                                {"title": "b", "url": "h5://demo.com", "image_url": "https://x/b.png"}]}),
            "/articles[1].url",
        ),
        (
            json!({"title": "t", "url": "h5://demo.com", "image_url": "https://x/a.png"}),
            "/url",
        ),
    ];
    for (m, field) in cases {
        for (kind, targets) in [(WecomApp, &app), (WecomWorkid, &workid)] {
            let mut m = m.clone();
            let declared = m["targets"][0]["type"].clone();
            m["targets"] = targets.clone();
            if !declared.is_null() {
                m["targets"][0]["type"] = declared;
            }
            let e = plan_err(kind, m.clone());
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                (field, "invalid_url"),
                "{kind:?} {m}"
            );
        }
    }
    // A link cannot be shortened: one over 2048 bytes is refused.
    let long = format!("https://x.example/{}", "a".repeat(2048));
    let e = plan_err(WecomApp, json!({"title": "t", "url": long, "targets": app}));
    assert_eq!((e.field.as_str(), e.code.as_str()), ("/url", "too_long"));
    // A text message may still mention such a link: it is text, not a link field.
    assert!(super::common::plan_on(
        &super::common::channel(WecomApp),
        json!({"content": "see h5://demo.com", "targets": app})
    )
    .is_ok());
}

#[test]
fn welink_app_card_lines_need_a_value() {
    let e = plan_err(
        Welink,
        json!({"title": "t", "url": "https://x",
               "fields": [{"key": "Host", "value": "db-3"}, {"key": "Since", "value": " "}],
               "targets": [{"channel": "c", "users": ["a"]}]}),
    );
    assert_eq!(
        (e.field.as_str(), e.code.as_str()),
        ("/fields[1].value", "required")
    );
}
