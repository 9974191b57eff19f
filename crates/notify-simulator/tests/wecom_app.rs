//! WeCom app API: 003_4bfe3b3ea0f80583.txt (message shapes, lines 597-716) and
//! the `FACTS` document of docs/upstream.md (codes, limits and behaviour the Node library leaves out).

mod common;

use serde_json::{json, Value};

fn text(to: &str) -> Value {
    json!({"touser": to, "msgtype": "text", "agentid": 1000002, "text": {"content": "Holiday Request For Pony(http://xxxxx)"}, "safe": "0"})
}

// UPSTREAM-FACTS "Token": gettoken answers {errcode, errmsg, access_token, expires_in 7200};
// the same token again while it lives; 40001 for a registered app's wrong secret.
#[tokio::test]
async fn gettoken_rules() {
    let s = common::start().await;
    let (_, v) = s.get("/cgi-bin/gettoken?corpid=ww1&corpsecret=sec").await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["errmsg"], "ok");
    assert_eq!(v["expires_in"], 7200);
    let (_, again) = s.get("/cgi-bin/gettoken?corpid=ww1&corpsecret=sec").await;
    assert_eq!(again["access_token"], v["access_token"]);
    assert_eq!(
        s.get("/cgi-bin/gettoken?corpsecret=sec").await.1["errcode"],
        41002
    );
    assert_eq!(
        s.get("/cgi-bin/gettoken?corpid=ww1").await.1["errcode"],
        41004
    );
    s.control(
        "/_sim/apps",
        json!({"kind": "wecom", "corpid": "ww2", "corpsecret": "right"}),
    )
    .await;
    assert_eq!(
        s.get("/cgi-bin/gettoken?corpid=ww2&corpsecret=bad").await.1["errcode"],
        40001
    );
    assert_eq!(
        s.get("/cgi-bin/gettoken?corpid=ww2&corpsecret=right")
            .await
            .1["errcode"],
        0
    );
}

// UPSTREAM-FACTS "Token": 40014 invalid (and revoked), 42001 expired, 41001 missing.
#[tokio::test]
async fn token_40014_42001() {
    let s = common::start().await;
    assert_eq!(
        s.wecom_send("bogus", text("zhangsan")).await["errcode"],
        40014
    );
    assert_eq!(
        s.post("/cgi-bin/message/send", text("a")).await.1["errcode"],
        41001
    );
    let tok = s.wecom_token("ww1").await;
    assert_eq!(s.wecom_send(&tok, text("zhangsan")).await["errcode"], 0);
    s.control("/_sim/clock", json!({"advance_ms": 7_200_000}))
        .await;
    assert_eq!(s.wecom_send(&tok, text("zhangsan")).await["errcode"], 42001);
    // After expiry gettoken hands out a new one.
    let fresh = s.wecom_token("ww1").await;
    assert_ne!(fresh, tok);
    s.control("/_sim/tokens/revoke", json!({"corpid": "ww1"}))
        .await;
    assert_eq!(
        s.wecom_send(&fresh, text("zhangsan")).await["errcode"],
        40014
    );
}

// 003 lines 600-716 (to/message shapes, answer with invaliduser/invalidparty/invalidtag) and
// UPSTREAM-FACTS "Send": ids lower-cased, 81013 when all invalid, 82001 when all empty,
// <= 1000 users / 100 parties / 100 tags, agentid required (and 301002 for another app's).
#[tokio::test]
async fn send_recipients_and_answer() {
    let s = common::start().await;
    let tok = s.wecom_token("ww1").await;
    let mut body = text("ZhangSan|InvalidBob");
    body["toparty"] = json!(" 2 | invalid9 ");
    body["totag"] = json!("invalidT");
    let v = s.wecom_send(&tok, body).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["invaliduser"], "invalidbob");
    assert_eq!(v["invalidparty"], "invalid9");
    assert_eq!(v["invalidtag"], "invalidT");
    assert!(v["msgid"].is_string());
    let v = s.wecom_send(&tok, text("invalid1|invalid2")).await;
    assert_eq!(v["errcode"], 81013);
    assert!(v.get("msgid").is_none());
    let mut none = text("");
    none["toparty"] = json!("");
    assert_eq!(s.wecom_send(&tok, none).await["errcode"], 82001);
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    assert_eq!(
        s.wecom_send(&tok, text(&many.join("|"))).await["errcode"],
        40032
    );
    assert_eq!(
        s.wecom_send(&tok, text(&many[..1000].join("|"))).await["errcode"],
        0
    );
    let mut parties = text("");
    parties["toparty"] = json!((0..101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("|"));
    assert_eq!(s.wecom_send(&tok, parties).await["errcode"], 82002);
    let mut tags = text("");
    tags["totag"] = json!((0..101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("|"));
    assert_eq!(s.wecom_send(&tok, tags).await["errcode"], 82003);
    let mut no_agent = text("a");
    no_agent.as_object_mut().unwrap().remove("agentid");
    assert_eq!(s.wecom_send(&tok, no_agent).await["errcode"], 41011);
    s.control(
        "/_sim/apps",
        json!({"kind": "wecom", "corpid": "ww9", "corpsecret": "sec", "agentid": 5}),
    )
    .await;
    let t9 = s.wecom_token("ww9").await;
    assert_eq!(s.wecom_send(&t9, text("a")).await["errcode"], 301002);
    let mut own = text("a");
    own["agentid"] = json!("5");
    assert_eq!(s.wecom_send(&t9, own).await["errcode"], 0);
}

// 003 lines 607-705 (message kinds) and UPSTREAM-FACTS limits: text cut at 2048 bytes,
// textcard url http(s), news 1-8 articles, markdown <= 2048 bytes (45002), unknown type 40008.
#[tokio::test]
async fn message_kinds() {
    let s = common::start().await;
    let tok = s.wecom_token("ww1").await;
    let base = |msgtype: &str, part: Value| {
        let mut b = json!({"touser": "a", "msgtype": msgtype, "agentid": 1});
        b[msgtype] = part;
        b
    };
    let card = json!({"title": "领奖通知", "description": "<div class=\"gray\">2016年9月26日</div>", "url": "https://example.com", "btntxt": "更多"});
    assert_eq!(
        s.wecom_send(&tok, base("textcard", card.clone())).await["errcode"],
        0
    );
    let mut bad = card.clone();
    bad["url"] = json!("example.com");
    assert_eq!(
        s.wecom_send(&tok, base("textcard", bad)).await["errcode"],
        40058
    );
    let art = json!({"title": "Title", "description": "Description", "url": "https://u", "picurl": "https://p"});
    assert_eq!(
        s.wecom_send(
            &tok,
            base("news", json!({"articles": vec![art.clone(); 8]}))
        )
        .await["errcode"],
        0
    );
    assert_eq!(
        s.wecom_send(
            &tok,
            base("news", json!({"articles": vec![art.clone(); 9]}))
        )
        .await["errcode"],
        40058
    );
    assert_eq!(
        s.wecom_send(&tok, base("markdown", json!({"content": "**hi**"})))
            .await["errcode"],
        0
    );
    assert_eq!(
        s.wecom_send(&tok, base("markdown", json!({"content": "x".repeat(2049)})))
            .await["errcode"],
        45002
    );
    assert_eq!(
        s.wecom_send(&tok, base("text", json!({"content": ""})))
            .await["errcode"],
        44004
    );
    assert_eq!(
        s.wecom_send(&tok, base("sticker", json!({}))).await["errcode"],
        40008
    );
    // Over 2048 bytes a text is cut, not refused; the log says so.
    assert_eq!(
        s.wecom_send(&tok, base("text", json!({"content": "x".repeat(3000)})))
            .await["errcode"],
        0
    );
    let last = s.calls_on("/cgi-bin/message/send").pop().unwrap();
    assert!(last.notes.contains(&"truncated:text.content".to_owned()));
}

// UPSTREAM-FACTS "Send": per member per app 30 a minute and 1000 an hour; the excess is
// dropped silently while the API answers ok — recorded with dropped: true.
#[tokio::test]
async fn member_cap_drops_silently() {
    let s = common::start().await;
    let tok = s.wecom_token("ww1").await;
    for i in 0..30 {
        assert_eq!(
            s.wecom_send(&tok, text("zhangsan|lisi")).await["errcode"],
            0,
            "{i}"
        );
    }
    let v = s.wecom_send(&tok, text("ZhangSan|wangwu")).await;
    assert_eq!(v["errcode"], 0);
    assert!(v["msgid"].is_string());
    let last = s.calls_on("/cgi-bin/message/send").pop().unwrap();
    assert!(last.dropped);
    assert!(
        last.notes.contains(&"dropped_members:zhangsan".to_owned()),
        "{:?}",
        last.notes
    );
    let (_, stats) = s.get("/_sim/stats").await;
    let zs = stats["wecom_members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member"] == "zhangsan")
        .unwrap()
        .clone();
    assert_eq!(zs["max_60s"], 30);
    assert_eq!(zs["dropped"], 1);
    assert_eq!(stats["dropped"], 1);
    // The minute slides (monotonic clock), and the hour cap (lowered here) still applies.
    s.control("/_sim/caps", json!({"member_per_hour": 31}))
        .await;
    s.control("/_sim/clock", json!({"advance_mono_ms": 60_000}))
        .await;
    s.wecom_send(&tok, text("zhangsan")).await;
    assert!(!s.calls_on("/cgi-bin/message/send").pop().unwrap().dropped);
    s.wecom_send(&tok, text("zhangsan")).await;
    assert!(s.calls_on("/cgi-bin/message/send").pop().unwrap().dropped);
}

// UPSTREAM-FACTS: enable_duplicate_check + duplicate_check_interval (default 1800 s, max 4 h):
// the same body inside the interval is answered ok but not delivered again.
#[tokio::test]
async fn duplicate_check() {
    let s = common::start().await;
    let tok = s.wecom_token("ww1").await;
    let mut b = text("zhangsan");
    b["enable_duplicate_check"] = json!(1);
    b["duplicate_check_interval"] = json!(60);
    let first = s.wecom_send(&tok, b.clone()).await;
    let second = s.wecom_send(&tok, b.clone()).await;
    assert_eq!(second["errcode"], 0);
    assert_eq!(second["msgid"], first["msgid"]);
    let last = s.calls_on("/cgi-bin/message/send").pop().unwrap();
    assert_eq!(
        last.notes,
        vec![format!("duplicate_of:{}", first["msgid"].as_str().unwrap())]
    );
    // Not delivered again: the member counted once.
    let (_, stats) = s.get("/_sim/stats").await;
    assert_eq!(stats["duplicates"], 1);
    assert_eq!(stats["wecom_members"][0]["delivered"], 1);
    // After the interval it is a new message; without the flag there is no check.
    s.control("/_sim/clock", json!({"advance_ms": 61_000}))
        .await;
    assert_ne!(s.wecom_send(&tok, b.clone()).await["msgid"], first["msgid"]);
    let plain = text("zhangsan");
    assert_ne!(
        s.wecom_send(&tok, plain.clone()).await["msgid"],
        s.wecom_send(&tok, plain).await["msgid"]
    );
    b["duplicate_check_interval"] = json!(14_401);
    assert_eq!(s.wecom_send(&tok, b).await["errcode"], 40058);
}

async fn upload(s: &common::Sim, tok: &str, kind: &str, name: &str, data: Vec<u8>) -> Value {
    let part = reqwest::multipart::Part::bytes(data).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("media", part);
    s.http
        .post(s.url(&format!(
            "/cgi-bin/media/upload?access_token={tok}&type={kind}"
        )))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

// UPSTREAM-FACTS "Media": multipart field `media`, > 5 bytes, image <= 10 MB JPG/PNG, file
// <= 20 MB; media_id lives 3 days, then a send with it gets 40007. Answer per 003 line 571.
#[tokio::test]
async fn media_upload_and_expiry() {
    let s = common::start().await;
    let tok = s.wecom_token("ww1").await;
    let png = b"\x89PNG\r\n\x1a\n0000000000".to_vec();
    let v = upload(&s, &tok, "image", "a.png", png.clone()).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["type"], "image");
    assert!(v["created_at"].is_number());
    let id = v["media_id"].as_str().unwrap().to_owned();
    assert_eq!(
        upload(&s, &tok, "image", "a.png", b"12345".to_vec()).await["errcode"],
        40006
    );
    assert_eq!(
        upload(&s, &tok, "image", "a.gif", b"GIF89a-----".to_vec()).await["errcode"],
        40005
    );
    assert_eq!(
        upload(&s, &tok, "photo", "a.png", png.clone()).await["errcode"],
        40004
    );
    assert_eq!(
        upload(&s, &tok, "voice", "a.amr", vec![b'#'; 2 * 1024 * 1024 + 1]).await["errcode"],
        40006
    );
    assert_eq!(
        upload(&s, &tok, "file", "r.pdf", vec![1; 1024]).await["errcode"],
        0
    );
    let img = |m: &str| json!({"touser": "a", "msgtype": "image", "agentid": 1, "image": {"media_id": m}});
    assert_eq!(s.wecom_send(&tok, img(&id)).await["errcode"], 0);
    assert_eq!(s.wecom_send(&tok, img("unknown")).await["errcode"], 40007);
    // Another corp cannot use it.
    let other = s.wecom_token("ww2").await;
    assert_eq!(s.wecom_send(&other, img(&id)).await["errcode"], 40007);
    s.control("/_sim/clock", json!({"advance_ms": 3 * 86_400_000}))
        .await;
    let tok = s.wecom_token("ww1").await;
    assert_eq!(s.wecom_send(&tok, img(&id)).await["errcode"], 40007);
}

// UPSTREAM-FACTS "Recall": up to 24 h old; 42052 after.
#[tokio::test]
async fn recall_24h() {
    let s = common::start().await;
    s.control("/_sim/modes", json!({"wecom_token_ttl_s": 200_000}))
        .await;
    let tok = s.wecom_token("ww1").await;
    let a = s.wecom_send(&tok, text("a")).await["msgid"].clone();
    let b = s.wecom_send(&tok, text("a")).await["msgid"].clone();
    let path = format!("/cgi-bin/message/recall?access_token={tok}");
    let recall = |m: Value| s.post(&path, json!({"msgid": m}));
    assert_eq!(
        recall(a.clone()).await.1,
        json!({"errcode": 0, "errmsg": "ok"})
    );
    assert_eq!(recall(a).await.1["errcode"], 40058);
    s.control("/_sim/clock", json!({"advance_ms": 24 * 3_600_000 + 1}))
        .await;
    assert_eq!(recall(b).await.1["errcode"], 42052);
}

// 003 lines 407-416: JS-SDK tickets {errcode, errmsg, ticket, expires_in 7200};
// UPSTREAM-FACTS: corp ticket /get_jsapi_ticket, app ticket /ticket/get?type=agent_config.
#[tokio::test]
async fn jsapi_tickets() {
    let s = common::start().await;
    let tok = s.wecom_token("ww1").await;
    let (_, v) = s
        .get(&format!("/cgi-bin/get_jsapi_ticket?access_token={tok}"))
        .await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["expires_in"], 7200);
    assert!(v["ticket"].is_string());
    let (_, v) = s
        .get(&format!(
            "/cgi-bin/ticket/get?access_token={tok}&type=agent_config"
        ))
        .await;
    assert_eq!(v["errcode"], 0);
    let (_, v) = s
        .get(&format!("/cgi-bin/ticket/get?access_token={tok}"))
        .await;
    assert_eq!(v["errcode"], 40058);
    assert_eq!(
        s.get("/cgi-bin/get_jsapi_ticket?access_token=x").await.1["errcode"],
        40014
    );
}

// UPSTREAM-FACTS "Other caps": per company per API 10,000/min → 45009; gettoken counts too.
#[tokio::test]
async fn company_cap_45009() {
    let s = common::start().await;
    s.control("/_sim/caps", json!({"wecom_company_per_minute": 3}))
        .await;
    let tok = s.wecom_token("ww1").await; // gettoken 1 of 3
    s.wecom_token("ww1").await;
    s.wecom_token("ww1").await;
    assert_eq!(
        s.get("/cgi-bin/gettoken?corpid=ww1&corpsecret=sec").await.1["errcode"],
        45009
    );
    // Per API: message/send has its own 3.
    for _ in 0..3 {
        assert_eq!(s.wecom_send(&tok, text("a")).await["errcode"], 0);
    }
    assert_eq!(s.wecom_send(&tok, text("a")).await["errcode"], 45009);
}
