//! Every code class of every kind, per-recipient failures and WeLink 51019.

use std::time::Duration;

use notify_core::ChannelKind::{self, WecomApp, WecomWorkid, Welink, Xiaowei};
use notify_core::{Outcome, PartOp};
use serde_json::{json, Value};

use super::common::{answer, call, channel, plan};

fn classify_on(kind: ChannelKind, target: Value, status: u16, body: Value) -> Outcome {
    let p = plan(
        kind,
        json!({"title": "t", "content": "c", "targets": [target]}),
    );
    let part = p.parts.last().unwrap();
    channel(kind)
        .adapter
        .classify(&call(part, Some("tok")), &answer(status, body))
}

fn welink(status: u16, body: Value) -> Outcome {
    classify_on(
        Welink,
        json!({"channel": "w", "users": ["john@welink", "zhangsan@welink"]}),
        status,
        body,
    )
}

fn label(o: &Outcome) -> &'static str {
    o.label()
}

#[test]
fn welink_codes() {
    let cases = [
        ("1000", "token_invalid"),
        ("48503", "rate_limited"),
        ("501", "permanent"),
        ("51018", "permanent"),
        ("51062", "permanent"),
        ("51078", "transient"),
        ("51059", "permanent"),
        ("51056", "permanent"),
        ("51095", "permanent"),
        ("51104", "permanent"),
        ("51021", "permanent"),
        ("51033", "permanent"),
        ("51107", "permanent"),
        ("51100", "permanent"),
        ("51111", "permanent"),
        ("51112", "permanent"),
        ("51113", "permanent"),
        ("51114", "permanent"),
        ("99999", "transient"),
    ];
    for (code, want) in cases {
        let o = welink(200, json!({"code": code, "message": "m"}));
        assert_eq!(label(&o), want, "code {code}: {o:?}");
        assert_eq!(o.code(), code);
    }
    // Codes as numbers are read too.
    assert_eq!(label(&welink(200, json!({"code": 48503}))), "rate_limited");
    let Outcome::RateLimited {
        initial_backoff, ..
    } = welink(200, json!({"code": "48503"}))
    else {
        panic!()
    };
    assert_eq!(initial_backoff, Duration::from_secs(1));
}

#[test]
fn welink_unknown_code_keeps_the_raw_answer() {
    let Outcome::Transient { message, .. } =
        welink(200, json!({"code": "77777", "message": "new"}))
    else {
        panic!()
    };
    assert!(
        message.contains("77777") && message.contains("new"),
        "{message}"
    );
}

#[test]
fn welink_http_statuses() {
    // HTTP 501: interface permission missing, permanent, with code "501" so that the token is dropped.
    let o = welink(501, json!({"message": "第三方接口无权限"}));
    let Outcome::Permanent { code, message } = o else {
        panic!("{o:?}")
    };
    assert_eq!(code, "501");
    assert!(message.contains("interface permission missing") && message.contains("refetched"));
    assert_eq!(label(&welink(502, json!({}))), "transient");
    assert_eq!(label(&welink(503, json!({"error": "x"}))), "transient");
    assert_eq!(label(&welink(429, json!({}))), "rate_limited");
}

#[test]
fn welink_ok_answer_gives_the_item_id() {
    assert_eq!(
        welink(
            200,
            json!({"code": "0", "message": "ok", "itemId": "b376d37b"})
        ),
        Outcome::Sent {
            upstream_id: Some("b376d37b".into()),
            failed_recipients: vec![]
        }
    );
    // Empty fields are absent.
    assert_eq!(
        welink(200, json!({"code": "0", "itemId": ""})),
        Outcome::Sent {
            upstream_id: None,
            failed_recipients: vec![]
        }
    );
}

#[test]
fn welink_51019_with_item_id_is_sent_with_failed_recipients() {
    let o = welink(
        200,
        json!({"code": "51019", "message": "不能给非粉丝用户推送消息",
        "failedUserId": ["ZhangSan@welink"], "itemId": "i1"}),
    );
    let Outcome::Sent {
        upstream_id,
        failed_recipients,
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(upstream_id.as_deref(), Some("i1"));
    assert_eq!(failed_recipients.len(), 1);
    assert_eq!(failed_recipients[0].recipient, "zhangsan@welink");
    assert_eq!(failed_recipients[0].code, "51019");
}

#[test]
fn welink_51019_without_item_id_resends_to_the_others() {
    let o = welink(
        200,
        json!({"code": "51019", "failedUserId": ["zhangsan@welink"]}),
    );
    let Outcome::Resend {
        failed_recipients,
        body,
        recipients,
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(recipients, vec!["john@welink"]);
    assert_eq!(body["toUserList"], json!(["john@welink"]));
    assert_eq!(body["msgTitle"], "t");
    assert_eq!(failed_recipients[0].recipient, "zhangsan@welink");
}

#[test]
fn welink_51019_for_everyone_is_permanent() {
    let o = welink(
        200,
        json!({"code": "51019", "failedUserId": ["john@welink", "zhangsan@welink"]}),
    );
    let Outcome::Permanent { code, message } = o else {
        panic!("{o:?}")
    };
    assert_eq!(code, "51019");
    assert!(message.contains("john@welink"));
    // Without a list nobody can be told apart: permanent too, never a resend loop.
    assert_eq!(label(&welink(200, json!({"code": "51019"}))), "permanent");
}

#[test]
fn xiaowei_codes() {
    let cases = [
        ("58401", "token_invalid"),
        ("58500", "transient"),
        ("58601", "permanent"),
        ("58602", "rate_limited"),
        ("58604", "quota_exhausted"),
        ("58606", "permanent"),
        ("1000", "token_invalid"),
        ("48503", "rate_limited"),
        ("12345", "transient"),
    ];
    for (code, want) in cases {
        let o = classify_on(
            Xiaowei,
            json!({"channel": "x", "users": ["a"]}),
            200,
            json!({"code": code}),
        );
        assert_eq!(label(&o), want, "code {code}: {o:?}");
    }
    let o = classify_on(
        Xiaowei,
        json!({"channel": "x", "users": ["a"]}),
        200,
        json!({"code": "0", "data": {"pushId": "p1"}, "message": "ok"}),
    );
    assert_eq!(
        o,
        Outcome::Sent {
            upstream_id: Some("p1".into()),
            failed_recipients: vec![]
        }
    );
    let Outcome::RateLimited {
        initial_backoff, ..
    } = classify_on(
        Xiaowei,
        json!({"channel": "x", "users": ["a"]}),
        200,
        json!({"code": "58602"}),
    )
    else {
        panic!()
    };
    assert_eq!(initial_backoff, Duration::from_secs(1));
}

#[test]
fn workid_answers() {
    let t = json!({"channel": "w", "work_ids": ["ww0517"]});
    let ok =
        json!({"code": 0, "msg": null, "data": {"msgId": "D2Pf"}, "requestId": "1", "ok": true});
    assert_eq!(
        classify_on(WecomWorkid, t.clone(), 200, ok),
        Outcome::Sent {
            upstream_id: Some("D2Pf".into()),
            failed_recipients: vec![]
        }
    );
    let cases = [
        (401, json!({}), "token_invalid"),
        (429, json!({}), "rate_limited"),
        (500, json!({}), "transient"),
        (503, json!({}), "transient"),
        (
            400,
            json!({"code": 400, "msg": "workIds empty", "ok": false}),
            "permanent",
        ),
        (403, json!({}), "permanent"),
        // code 0 without ok == true is not a success, and not a reason to send again either:
        // the platform may have sent it (a resend could show it twice).
        (200, json!({"code": 0, "ok": false}), "permanent"),
        (
            200,
            json!({"code": 0, "data": {"msgId": "D2Pf"}}),
            "permanent",
        ),
        (200, json!({"code": "0", "ok": null}), "permanent"),
        (200, json!({"code": 0, "ok": "true"}), "sent"),
        // The envelope mirrors HTTP statuses (contract §5): 401 is a token to refresh, 429 a
        // rate limit, whether as the status or as the code of an HTTP-200 envelope.
        (
            200,
            json!({"code": 401, "msg": "token expired", "ok": false}),
            "token_invalid",
        ),
        (
            200,
            json!({"code": 429, "msg": "too many requests", "ok": false}),
            "rate_limited",
        ),
        (
            200,
            json!({"code": "401", "msg": null, "ok": false}),
            "token_invalid",
        ),
        (
            200,
            json!({"code": 500, "msg": "boom", "ok": false}),
            "transient",
        ),
        // A refused field answered with HTTP 200 and the envelope's code.
        (
            200,
            json!({"code": 400, "msg": "workIds empty", "ok": false}),
            "permanent",
        ),
        (
            200,
            json!({"code": 81013, "msg": "all invalid", "ok": false}),
            "permanent",
        ),
        (200, json!("not an object"), "transient"),
    ];
    for (status, body, want) in cases {
        let o = classify_on(WecomWorkid, t.clone(), status, body.clone());
        assert_eq!(label(&o), want, "{status} {body}: {o:?}");
    }
    let Outcome::RateLimited {
        initial_backoff, ..
    } = classify_on(
        WecomWorkid,
        t.clone(),
        200,
        json!({"code": 429, "ok": false}),
    )
    else {
        panic!()
    };
    assert_eq!(initial_backoff, Duration::from_secs(1));
    let Outcome::Permanent { code, message } = classify_on(
        WecomWorkid,
        t,
        200,
        json!({"code": 0, "data": {"msgId": "D2Pf"}}),
    ) else {
        panic!()
    };
    assert_eq!(code, "0");
    assert!(
        message.contains("without ok: true") && message.contains("not sent again"),
        "{message}"
    );
}

#[test]
fn wecom_app_codes() {
    let t = json!({"channel": "c", "users": ["zhangsan"]});
    let cases = [
        ("-1", "transient"),
        ("45009", "rate_limited"),
        ("45033", "rate_limited"),
        ("40014", "token_invalid"),
        ("42001", "token_invalid"),
        ("41001", "token_invalid"),
        ("60020", "permanent"),
        ("48002", "permanent"),
        ("301002", "permanent"),
        ("40001", "credential_rejected"),
        ("40013", "credential_rejected"),
        ("40091", "credential_rejected"),
        ("45031", "credential_rejected"),
        ("40008", "permanent"),
        ("44004", "permanent"),
        ("45002", "permanent"),
        ("40058", "permanent"),
        ("40032", "permanent"),
        ("82001", "permanent"),
        ("82002", "permanent"),
        ("82003", "permanent"),
        ("81013", "permanent"),
        ("40007", "media_expired"),
        ("42052", "permanent"),
        ("123456", "transient"),
    ];
    for (code, want) in cases {
        let n: i64 = code.parse().unwrap();
        let o = classify_on(
            WecomApp,
            t.clone(),
            200,
            json!({"errcode": n, "errmsg": "x"}),
        );
        assert_eq!(label(&o), want, "code {code}: {o:?}");
    }
    let Outcome::RateLimited {
        initial_backoff, ..
    } = classify_on(WecomApp, t.clone(), 200, json!({"errcode": 45009}))
    else {
        panic!()
    };
    assert_eq!(initial_backoff, Duration::from_secs(60));
    let Outcome::Permanent { message, .. } =
        classify_on(WecomApp, t.clone(), 200, json!({"errcode": 60020}))
    else {
        panic!()
    };
    assert!(
        message.contains("egress IP") && message.contains("trusted IP"),
        "{message}"
    );
    let Outcome::Permanent { message, .. } =
        classify_on(WecomApp, t.clone(), 200, json!({"errcode": 42052}))
    else {
        panic!()
    };
    assert!(message.contains("more than 24 h old"), "{message}");
    assert_eq!(
        label(&classify_on(WecomApp, t.clone(), 502, json!({}))),
        "transient"
    );
    // A warning in errmsg does not matter: errcode decides.
    assert_eq!(
        classify_on(
            WecomApp,
            t,
            200,
            json!({"errcode": 0, "errmsg": "ok. Warning: x", "msgid": "m1"})
        ),
        Outcome::Sent {
            upstream_id: Some("m1".into()),
            failed_recipients: vec![]
        }
    );
}

/// `-1` (system busy) is retried, but at most 3 times (UPSTREAM-FACTS line 42): the answer
/// to the fourth try fails the part with WeCom's message.
#[test]
fn wecom_app_busy_is_retried_three_times_then_fails() {
    let p = plan(
        WecomApp,
        json!({"title": "t", "content": "c", "targets": [{"channel": "c", "users": ["zhangsan"]}]}),
    );
    let busy = answer(200, json!({"errcode": -1, "errmsg": "system busy"}));
    let ch = channel(WecomApp);
    for attempts in 0..3 {
        let c = notify_channels::PartCall {
            attempts,
            ..call(&p.parts[0], Some("tok"))
        };
        let o = ch.adapter.classify(&c, &busy);
        assert_eq!(label(&o), "transient", "after {attempts} attempts: {o:?}");
    }
    let c = notify_channels::PartCall {
        attempts: 3,
        ..call(&p.parts[0], Some("tok"))
    };
    let Outcome::Permanent { code, message } = ch.adapter.classify(&c, &busy) else {
        panic!()
    };
    assert_eq!(code, "-1");
    assert!(
        message.contains("3 retries") && message.contains("system busy"),
        "{message}"
    );
    // Other transient codes keep the dispatcher's own attempt limit.
    let c = notify_channels::PartCall {
        attempts: 5,
        ..call(&p.parts[0], Some("tok"))
    };
    let o = ch
        .adapter
        .classify(&c, &answer(200, json!({"errcode": 123456})));
    assert_eq!(label(&o), "transient");
}

#[test]
fn wecom_app_partial_failures_keep_the_callers_spelling() {
    let p = plan(
        WecomApp,
        json!({"content": "c", "targets": [
        {"channel": "c", "users": ["ZhangSan", "LiSi", "wangwu"], "parties": ["2"], "tags": ["7"]}]}),
    );
    let o = channel(WecomApp).adapter.classify(
        &call(&p.parts[0], Some("tok")),
        &answer(
            200,
            json!({"errcode": 0, "errmsg": "ok", "msgid": "m1",
            "invaliduser": "zhangsan|lisi", "invalidparty": "2", "invalidtag": "",
            "unlicenseduser": ["wangwu"]}),
        ),
    );
    let Outcome::Sent {
        upstream_id,
        failed_recipients,
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(upstream_id.as_deref(), Some("m1"));
    let got: Vec<(&str, &str)> = failed_recipients
        .iter()
        .map(|f| (f.recipient.as_str(), f.code.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ZhangSan", "invaliduser"),
            ("LiSi", "invaliduser"),
            ("wangwu", "unlicenseduser"),
            ("party:2", "invalidparty"),
        ]
    );
}

#[test]
fn wecom_app_upload_answers() {
    let p = plan(
        WecomApp,
        json!({"file_url": "https://example.com/r.pdf",
        "targets": [{"channel": "c", "users": ["a"]}]}),
    );
    let up = &p.parts[0];
    assert_eq!(up.op, PartOp::Upload);
    let ch = channel(WecomApp);
    let o = ch.adapter.classify(&call(up, Some("t")),
        &answer(200, json!({"errcode": 0, "errmsg": "ok", "type": "file", "media_id": "MEDIA", "created_at": "1"})));
    assert_eq!(
        o,
        Outcome::Sent {
            upstream_id: Some("MEDIA".into()),
            failed_recipients: vec![]
        }
    );
    // The Node library's example answer has no errcode at all (003_… line 571).
    let o = ch.adapter.classify(
        &call(up, Some("t")),
        &answer(
            200,
            json!({"type": "image", "media_id": "0000001", "created_at": 123456789}),
        ),
    );
    assert_eq!(
        o,
        Outcome::Sent {
            upstream_id: Some("0000001".into()),
            failed_recipients: vec![]
        }
    );
    let o = ch.adapter.classify(
        &call(&p.parts[1], Some("t")),
        &answer(200, json!({"errcode": 40007})),
    );
    assert_eq!(o.label(), "media_expired");
}

#[test]
fn welink_51019_on_a_department_call_is_permanent() {
    let o = classify_on(
        Welink,
        json!({"channel": "w", "departments": ["d1"]}),
        200,
        json!({"code": "51019", "failedUserId": ["x@welink"]}),
    );
    let Outcome::Permanent { message, .. } = o else {
        panic!("{o:?}")
    };
    assert!(message.contains("department or role"), "{message}");
}

#[test]
fn wecom_app_refused_media_is_permanent() {
    let t = json!({"channel": "c", "users": ["a"]});
    for code in [40004, 40005, 40006] {
        let o = classify_on(WecomApp, t.clone(), 200, json!({"errcode": code}));
        assert_eq!(o.label(), "permanent", "{code}");
    }
}
