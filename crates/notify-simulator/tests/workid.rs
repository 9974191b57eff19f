//! The work-ID middle platform, 002_5e921e94ff34e0dc.txt line 13 (the whole document is one
//! line), and its OAuth2 client-credentials token (UPSTREAM-FACTS, RFC 6749 §4.4).

mod common;

use serde_json::{json, Value};

const TEXT: &str = "/integration/wx_work/sendByWorkIds";

// UPSTREAM-FACTS "OAuth2 client credentials": grant_type=client_credentials, HTTP Basic or
// form credentials; {access_token, token_type "Bearer", expires_in}; errors 400/401 {error}.
#[tokio::test]
async fn client_credentials_token() {
    let s = common::start().await;
    let (st, v) = s.oauth_token("gw", "secret").await;
    assert_eq!(st, 200);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 7200);
    let form = |pairs: &[(&str, &str)]| {
        s.http
            .post(s.url("/oauth/token"))
            .form(
                &pairs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<Vec<_>>(),
            )
            .send()
    };
    let r = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "gw"),
        ("client_secret", "s"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = form(&[
        ("grant_type", "password"),
        ("client_id", "gw"),
        ("client_secret", "s"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = form(&[("client_id", "gw"), ("client_secret", "s")])
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = form(&[("grant_type", "client_credentials")]).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    s.control(
        "/_sim/apps",
        json!({"kind": "oauth", "client_id": "reg", "client_secret": "right"}),
    )
    .await;
    assert_eq!(s.oauth_token("reg", "wrong").await.0, 401);
    assert_eq!(s.oauth_token("reg", "right").await.0, 200);
}

async fn bearer(s: &common::Sim) -> String {
    s.oauth_token("gw", "secret").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

// 002 line 13: envelope {code 0, msg null, data.msgId, requestId, ok true}; bad bearer → 401.
#[tokio::test]
async fn send_and_bearer() {
    let s = common::start().await;
    let t = bearer(&s).await;
    let (st, v) = s
        .workid(
            &t,
            TEXT,
            json!({"workIds": ["ww0517"], "content": "这是一条测试消息"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["code"], 0);
    assert_eq!(v["ok"], true);
    assert!(v["msg"].is_null());
    assert!(v["requestId"]
        .as_str()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_digit()));
    let (st, _) = s
        .workid("nope", TEXT, json!({"workIds": ["a"], "content": "x"}))
        .await;
    assert_eq!(st, 401);
    s.control("/_sim/clock", json!({"advance_ms": 7_200_000}))
        .await;
    assert_eq!(
        s.workid(&t, TEXT, json!({"workIds": ["a"], "content": "x"}))
            .await
            .0,
        401
    );
    s.control("/_sim/clock", json!({"offset_ms": 0})).await;
    s.control("/_sim/tokens/revoke", json!({"client_id": "gw"}))
        .await;
    assert_eq!(
        s.workid(&t, TEXT, json!({"workIds": ["a"], "content": "x"}))
            .await
            .0,
        401
    );
}

// 002 line 13 field tables: workIds and the content fields required per send; ok:false with a
// numeric code when refused. Every work ID unknown → 81013; some unknown → sent to the rest.
#[tokio::test]
async fn field_rules_and_invalid_ids() {
    let s = common::start().await;
    let t = bearer(&s).await;
    let refused: Vec<(&str, Value)> = vec![
        (TEXT, json!({"content": "x"})),
        (TEXT, json!({"workIds": [], "content": "x"})),
        (TEXT, json!({"workIds": ["a"]})),
        (
            "/integration/wx_work/sendTextCardByWorkIds",
            json!({"workIds": ["a"], "textCard": {"title": "t", "description": "d"}}),
        ),
        (
            "/integration/wx_work/sendTextCardByWorkIds",
            json!({"workIds": ["a"], "textCard": {"title": "t", "url": "https://x"}}),
        ),
        (
            "/integration/wx_work/sendFileByWorkIds",
            json!({"workIds": ["a"]}),
        ),
        (
            "/integration/wx_work/sendFileByWorkIds",
            json!({"workIds": ["a"], "fileUrl": "https://x/a.pdf", "safe": 2}),
        ),
        (
            "/integration/wx_work/sendImageByWorkIds",
            json!({"workIds": ["a"], "images": [{"title": "t", "description": "d"}]}),
        ),
        (
            "/integration/wx_work/sendImageByWorkIds",
            json!({"workIds": ["a"], "images": []}),
        ),
        (
            "/integration/wx_work/sendMarkdownByWorkIds",
            json!({"workIds": ["a"], "markdown": {}}),
        ),
        (
            "/integration/wx_work/sendMarkdownByWorkIds",
            json!({"workIds": ["a"], "content": "x"}),
        ),
    ];
    for (path, body) in refused {
        let (st, v) = s.workid(&t, path, body.clone()).await;
        assert_eq!(st, 200);
        assert_eq!(v["code"], 400, "{path} {body}: {v}");
        assert_eq!(v["ok"], false);
    }
    let (_, v) = s
        .workid(
            &t,
            TEXT,
            json!({"workIds": ["invalid1", "invalid2"], "content": "x"}),
        )
        .await;
    assert_eq!(v["code"], 81013);
    assert_eq!(v["ok"], false);
    let (_, v) = s
        .workid(
            &t,
            TEXT,
            json!({"workIds": ["ww0517", "invalid1"], "content": "x"}),
        )
        .await;
    assert_eq!(v["code"], 0);
    let last = s.calls_on(TEXT).pop().unwrap();
    assert!(last.notes.contains(&"invalid_work_ids:invalid1".to_owned()));
}

// 002 line 13 "撤回应用消息": recall within 24 hours, by msgId with the same companyId.
#[tokio::test]
async fn recall_rules() {
    let s = common::start().await;
    s.control("/_sim/modes", json!({"oauth_token_ttl_s": 200_000}))
        .await;
    let t = bearer(&s).await;
    let send = |company: Option<&str>| {
        let mut b = json!({"workIds": ["ww0517"], "content": "x"});
        if let Some(c) = company {
            b["companyId"] = json!(c);
        }
        s.workid(&t, TEXT, b)
    };
    let m1 = send(Some("corp001")).await.1["data"]["msgId"].clone();
    let rc = "/integration/wx_work/recall";
    // Without the companyId it was sent with, the message is not found.
    assert_eq!(
        s.workid(&t, rc, json!({"msgId": m1})).await.1["code"],
        40058
    );
    let (_, v) = s
        .workid(&t, rc, json!({"msgId": m1, "companyId": "corp001"}))
        .await;
    assert_eq!(v["code"], 0);
    assert!(v["data"].is_null());
    assert_eq!(v["ok"], true);
    assert_eq!(
        s.workid(&t, rc, json!({"msgId": m1, "companyId": "corp001"}))
            .await
            .1["code"],
        40058
    );
    assert_eq!(s.workid(&t, rc, json!({})).await.1["code"], 400);
    let m2 = send(None).await.1["data"]["msgId"].clone();
    s.control("/_sim/clock", json!({"advance_ms": 24 * 3_600_000 + 1}))
        .await;
    assert_eq!(
        s.workid(&t, rc, json!({"msgId": m2})).await.1["code"],
        42052
    );
}

// It is WeCom underneath: the same per-member silent drop (UPSTREAM-FACTS), per companyId.
#[tokio::test]
async fn member_drop() {
    let s = common::start().await;
    s.control("/_sim/caps", json!({"member_per_minute": 2}))
        .await;
    let t = bearer(&s).await;
    for _ in 0..2 {
        s.workid(&t, TEXT, json!({"workIds": ["ww0517"], "content": "x"}))
            .await;
    }
    let (_, v) = s
        .workid(&t, TEXT, json!({"workIds": ["ww0517"], "content": "x"}))
        .await;
    assert_eq!(v["code"], 0);
    assert!(s.calls_on(TEXT).pop().unwrap().dropped);
    // Another company is another app.
    s.workid(
        &t,
        TEXT,
        json!({"workIds": ["ww0517"], "content": "x", "companyId": "corp001"}),
    )
    .await;
    assert!(!s.calls_on(TEXT).pop().unwrap().dropped);
}
