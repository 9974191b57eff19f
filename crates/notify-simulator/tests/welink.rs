//! WeLink public-account messages against 000_5ea2b8ffe88cf7cd.txt (lines cited per test).

mod common;

use common::{card, CARD};
use serde_json::{json, Value};

// 000 lines 498-506: token error codes; 41579/41580 empty id/secret, 10007 wrong, 41403 locked.
#[tokio::test]
async fn token_errors() {
    let s = common::start().await;
    let t = "/api/auth/v2/tickets";
    let (_, v) = s
        .post(t, json!({"client_id": "", "client_secret": "x"}))
        .await;
    assert_eq!(v, json!({"code": "41579", "message": "clientId为空"}));
    let (_, v) = s.post(t, json!({"client_id": "app"})).await;
    assert_eq!(v["code"], "41580");
    // Unregistered: any non-empty secret; answer shape of lines 481-486.
    let (_, v) = s
        .post(t, json!({"client_id": "app", "client_secret": "any"}))
        .await;
    assert_eq!(v["code"], "0");
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["message"], "ok");
    // Registered: exact secret; five wrong fetches lock the client_id (line 503).
    s.control(
        "/_sim/apps",
        json!({"kind": "welink", "client_id": "reg", "client_secret": "right"}),
    )
    .await;
    for _ in 0..5 {
        let (_, v) = s
            .post(t, json!({"client_id": "reg", "client_secret": "wrong"}))
            .await;
        assert_eq!(v["code"], "10007");
    }
    let (_, v) = s
        .post(t, json!({"client_id": "reg", "client_secret": "right"}))
        .await;
    assert_eq!(v["code"], "41403");
    // A body that is not JSON: 41500 "获取access_token异常" (line 502).
    let r = s.http.post(s.url(t)).body("nope").send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "41500");
}

// 000 line 507: 1000 = access_token invalid; unknown, expired (via /_sim/clock) and revoked.
#[tokio::test]
async fn token_invalid_expired_revoked_is_1000() {
    let s = common::start().await;
    let v = s.wl("not-a-token", CARD, card(&["a@welink"])).await;
    assert_eq!(
        v,
        json!({"code": "1000", "message": "access_token失效或者不可用"})
    );
    let tok = s.welink_token("app").await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "0");
    s.control("/_sim/clock", json!({"advance_ms": 7_200_000}))
        .await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "1000");
    s.control("/_sim/clock", json!({"offset_ms": 0})).await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "0");
    s.control("/_sim/tokens/revoke", json!({"client_id": "app"}))
        .await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "1000");
}

// 000 line 514: an interface the app has no permission for answers 501.
#[tokio::test]
async fn denied_interface_is_501() {
    let s = common::start().await;
    s.control(
        "/_sim/apps",
        json!({"kind": "welink", "client_id": "app", "client_secret": "s3cret",
               "denied_interfaces": ["/messages/v1/image"]}),
    )
    .await;
    let tok = s.welink_token("app").await;
    let v = s
        .wl(
            &tok,
            "/api/messages/v1/image",
            json!({"toUserList": ["a"], "imageUrl": "https://x/y.png"}),
        )
        .await;
    assert_eq!(v["code"], "501");
    assert_eq!(s.wl(&tok, CARD, card(&["a"])).await["code"], "0");
}

// 000 lines 833-847: success carries itemId; 51019 carries failedUserId; empty fields left out.
#[tokio::test]
async fn nonfans_51019() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    // All non-fans: nothing sent, no itemId (lines 843-847).
    let v = s.wl(&tok, CARD, card(&["x-nonfan@welink"])).await;
    assert_eq!(
        v,
        json!({"code": "51019", "message": "不能给非粉丝用户推送消息", "failedUserId": ["x-nonfan@welink"]})
    );
    // Some fans: sent to them, with an itemId, naming the others (the default "partial" mode).
    let v = s
        .wl(&tok, CARD, card(&["john@welink", "zhang-nonfan@welink"]))
        .await;
    assert_eq!(v["code"], "51019");
    assert!(v["itemId"].is_string());
    assert_eq!(v["failedUserId"], json!(["zhang-nonfan@welink"]));
    // The literal reading of the example (mixed list, no itemId) as a mode.
    s.control("/_sim/modes", json!({"welink_nonfan": "reject_all"}))
        .await;
    let v = s
        .wl(&tok, CARD, card(&["john@welink", "zhang-nonfan@welink"]))
        .await;
    assert_eq!(v["code"], "51019");
    assert!(v.get("itemId").is_none());
    // Success answer: code as a string, no empty failedUserId (lines 833-837).
    let v = s.wl(&tok, CARD, card(&["john@welink"])).await;
    assert_eq!(v.as_object().unwrap().len(), 3);
    assert_eq!(v["code"], "0");
}

// 000 lines 812-815 and 887-895: msgRange 0/1/2 and its codes 51059, 51056, 51095, 51018.
#[tokio::test]
async fn msg_range_rules() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let mut c = card(&[]);
    c["msgRange"] = json!("3");
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "51059");
    c["msgRange"] = json!(1);
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "51059");
    c["msgRange"] = json!("1");
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "51056");
    c["departmentList"] = json!(["d1"]);
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "0");
    c["departmentList"] = json!((0..101).map(|i| format!("d{i}")).collect::<Vec<_>>());
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "51062");
    c["msgRange"] = json!("2");
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "51095");
    c["roleList"] = json!(["r1"]);
    assert_eq!(s.wl(&tok, CARD, c.clone()).await["code"], "0");
    // msgRange 0 (default): toUserList required (51062), at most 1000 (51018).
    let users: Vec<String> = (0..1001).map(|i| format!("u{i}@welink")).collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    assert_eq!(s.wl(&tok, CARD, card(&[])).await["code"], "51062");
    assert_eq!(s.wl(&tok, CARD, card(&users)).await["code"], "51018");
    assert_eq!(s.wl(&tok, CARD, card(&users[..1000])).await["code"], "0");
    // Same codes on the other three sends (lines 1052-1060, 1166-1175, 1310-1317).
    let img = json!({"msgRange": "2", "imageUrl": "https://x/y.png"});
    assert_eq!(
        s.wl(&tok, "/api/messages/v1/image", img).await["code"],
        "51095"
    );
}

// 000 lines 809-817: msgOwner 18, msgTitle 128, msgContent 512 bytes; required.
#[tokio::test]
async fn card_byte_limits() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let cases = [("msgOwner", 18), ("msgTitle", 128), ("msgContent", 512)];
    for (field, max) in cases {
        let mut c = card(&["a"]);
        c[field] = json!("a".repeat(max));
        assert_eq!(
            s.wl(&tok, CARD, c.clone()).await["code"],
            "0",
            "{field} at {max}"
        );
        c[field] = json!("a".repeat(max + 1));
        assert_eq!(
            s.wl(&tok, CARD, c.clone()).await["code"],
            "51062",
            "{field} over"
        );
        // Bytes, not characters: 3-byte characters count 3.
        c[field] = json!("考".repeat(max / 3 + 1));
        assert_eq!(
            s.wl(&tok, CARD, c.clone()).await["code"],
            "51062",
            "{field} bytes"
        );
        c.as_object_mut().unwrap().remove(field);
        assert_eq!(
            s.wl(&tok, CARD, c).await["code"],
            "51062",
            "{field} required"
        );
    }
    // urlType "当前只支持html" (line 821), receiveDeviceType 0/1/2 (line 820).
    let mut c = card(&["a"]);
    c["urlType"] = json!("wecode");
    assert_eq!(s.wl(&tok, CARD, c).await["code"], "51062");
    let mut c = card(&["a"]);
    c["receiveDeviceType"] = json!("3");
    assert_eq!(s.wl(&tok, CARD, c).await["code"], "51062");
    // A bilingual title must be the {"CN","EN"} JSON when it looks like JSON (lines 816-817).
    let mut c = card(&["a"]);
    c["msgTitle"] = json!("{\"CN\": 1}");
    assert_eq!(s.wl(&tok, CARD, c).await["code"], "51062");
    // msgOwner has no bilingual form (line 810): a `{` in it is plain text.
    let mut c = card(&["a"]);
    c["msgOwner"] = json!("{ops} team");
    assert_eq!(s.wl(&tok, CARD, c).await["code"], "0");
}

// 000 lines 824-825 (card) and 947-950 (app card): messageStatus CN 2-5 / EN 2-10 chars,
// statusColor 1/2/3; otherwise 51104 (lines 895, 1060).
#[tokio::test]
async fn message_status_rules() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let cases = [
        (json!("{\"EN\":\"processed\",\"CN\":\"已处理\"}"), "0"),
        (json!({"EN": "ok", "CN": "已处理已处理"}), "51104"), // CN 6
        (json!({"EN": "ok", "CN": "已"}), "51104"),           // CN 1
        (json!({"EN": "a", "CN": "已处理"}), "51104"),        // EN 1
        (json!({"EN": "abcdefghijk", "CN": "已处理"}), "51104"), // EN 11
        (json!({"EN": "abcdefghij", "CN": "已处理待办"}), "0"),
        (json!({"CN": "已处理"}), "51104"),
        (json!("not json"), "51104"),
    ];
    for (status, code) in cases {
        let mut c = card(&["a"]);
        c["messageStatus"] = status.clone();
        assert_eq!(s.wl(&tok, CARD, c).await["code"], code, "{status}");
    }
    for (color, code) in [
        (json!("1"), "0"),
        (json!("3"), "0"),
        (json!("0"), "51104"),
        (json!("4"), "51104"),
    ] {
        let mut c = card(&["a"]);
        c["statusColor"] = color.clone();
        assert_eq!(s.wl(&tok, CARD, c).await["code"], code, "{color}");
    }
}

fn app_card() -> Value {
    json!({
        "toUserList": ["john@welink"],
        "msgTitle": "{\"EN\": \"meeting\", \"CN\": \"技术部例会\"}",
        "urlPath": "http://www.meeting.demo/",
        "btnType": "horizontal",
        "btnList": [{"btnTitle": "{\"EN\": \"go\", \"CN\": \"视频会议\"}", "urlType": "html", "btnUrl": "https://www.demo.com"}],
        "contentList": [{"key": "{\"EN\": \"time\", \"CN\": \"时间\"}", "value": "{\"EN\": \"14:00\", \"CN\": \"14时\"}"}]
    })
}

/// A JSON-type string `{"EN": en, "CN": cn}` without spaces (17 bytes plus the texts').
fn bi(en: &str, cn: &str) -> String {
    format!("{{\"EN\":\"{en}\",\"CN\":\"{cn}\"}}")
}

// 000 lines 934–964: app card contentList required, <= 5 lines, key 128 / value 256 bytes,
// both JSON-type strings (956–957); urlPath required; btnList 2 horizontal / 3 vertical;
// btnTitle a JSON-type string of at most 128 bytes (962).
#[tokio::test]
async fn app_card_rules() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let p = "/api/messages/v1/card/wecode";
    assert_eq!(s.wl(&tok, p, app_card()).await["code"], "0");
    let line = json!({"key": bi("k", "键"), "value": bi("v", "值")});
    let mut c = app_card();
    c["contentList"] = json!(vec![line.clone(); 5]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "0");
    c["contentList"] = json!(vec![line.clone(); 6]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    c["contentList"] = json!([]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    c["contentList"] = json!([{"key": bi(&"k".repeat(111), "v"), "value": bi("v", "v")}]);
    assert_eq!(bi(&"k".repeat(111), "v").len(), 129);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    c["contentList"] = json!([{"value": bi(&"v".repeat(238), "v")}]);
    assert_eq!(bi(&"v".repeat(238), "v").len(), 256);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "0");
    c["contentList"] = json!([{"value": bi(&"v".repeat(239), "v")}]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    let mut c = app_card();
    c.as_object_mut().unwrap().remove("urlPath");
    assert_eq!(s.wl(&tok, p, c).await["code"], "51062");
    let btn = json!({"btnTitle": bi("go", "前往"), "btnUrl": "https://x"});
    let mut c = app_card();
    c["btnList"] = json!(vec![btn.clone(); 3]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    c["btnType"] = json!("vertical");
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "0");
    c["btnList"] = json!(vec![btn.clone(); 4]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    c["btnList"] = json!([{"btnTitle": bi(&"b".repeat(111), "b"), "btnUrl": "https://x"}]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    c["btnList"] = json!([{"btnTitle": bi("go", "前往")}]);
    assert_eq!(s.wl(&tok, p, c.clone()).await["code"], "51062");
    let mut c = app_card();
    c["messageStatus"] = json!({"EN": "x", "CN": "待处理"});
    assert_eq!(s.wl(&tok, p, c).await["code"], "51104");
}

// 000 line 1108 (image: imageUrl required) and lines 1225-1234 (news: 1-5 items, title 18
// bytes, description 140 bytes, newsUrl and imageUrl required).
#[tokio::test]
async fn image_and_news_rules() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let img = "/api/messages/v1/image";
    assert_eq!(
        s.wl(&tok, img, json!({"toUserList": ["a"]})).await["code"],
        "51062"
    );
    assert_eq!(
        s.wl(
            &tok,
            img,
            json!({"toUserList": ["a"], "imageUrl": "https://x/y.png", "jumpUrl": "https://x"})
        )
        .await["code"],
        "0"
    );
    let news = "/api/messages/v1/news";
    let item = json!({"title": "多图文1", "description": "d", "newsUrl": "https://x", "imageUrl": "https://x/i.png"});
    let body = |items: Value| json!({"toUserList": ["a"], "news": items});
    assert_eq!(
        s.wl(&tok, news, body(json!(vec![item.clone(); 5]))).await["code"],
        "0"
    );
    assert_eq!(
        s.wl(&tok, news, body(json!(vec![item.clone(); 6]))).await["code"],
        "51062"
    );
    assert_eq!(s.wl(&tok, news, body(json!([]))).await["code"], "51062");
    let mut i = item.clone();
    i["title"] = json!("a".repeat(18));
    assert_eq!(
        s.wl(&tok, news, body(json!([i.clone()]))).await["code"],
        "0"
    );
    i["title"] = json!("多图文多图文多"); // 7 × 3 = 21 bytes
    assert_eq!(s.wl(&tok, news, body(json!([i]))).await["code"], "51062");
    let mut i = item.clone();
    i["description"] = json!("d".repeat(141));
    assert_eq!(s.wl(&tok, news, body(json!([i]))).await["code"], "51062");
    for field in ["newsUrl", "imageUrl", "title"] {
        let mut i = item.clone();
        i.as_object_mut().unwrap().remove(field);
        assert_eq!(
            s.wl(&tok, news, body(json!([i]))).await["code"],
            "51062",
            "{field}"
        );
    }
}

async fn stateful_card(s: &common::Sim, tok: &str, users: &[&str], public: Option<&str>) -> String {
    let mut c = card(users);
    c["messageStatus"] = json!("{\"EN\":\"pending\",\"CN\":\"待处理\"}");
    c["statusColor"] = json!("3");
    if let Some(p) = public {
        c["publicAccID"] = json!(p);
    }
    let v = s.wl(tok, CARD, c).await;
    assert_eq!(v["code"], "0");
    v["itemId"].as_str().unwrap().to_owned()
}

// 000 lines 1357-1425: update needs toUserList/itemId/messageStatus (51021), <= 1000 users
// (51018), colours 0/1/2, a card sent with a state (51107), a known message under the same
// publicAccID (51033); unreached users come back in failedUserId.
#[tokio::test]
async fn update_rules() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let up = "/api/messages/v1/update";
    let item = stateful_card(&s, &tok, &["a@welink", "b@welink"], None).await;
    let st = json!({"EN": "processed", "CN": "已完成"});
    let ok = s.wl(&tok, up, json!({"toUserList": ["a@welink"], "itemId": item, "messageStatus": st, "statusColor": "2"})).await;
    assert_eq!(ok, json!({"code": "0", "message": "ok"}));
    let v = s
        .wl(
            &tok,
            up,
            json!({"toUserList": ["a@welink", "z@welink"], "itemId": item, "messageStatus": st}),
        )
        .await;
    assert_eq!(v["code"], "0");
    assert_eq!(v["failedUserId"], json!(["z@welink"]));
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": ["z@welink"], "itemId": item, "messageStatus": st})
        )
        .await["code"],
        "51033"
    );
    // 51021: each required field.
    assert_eq!(
        s.wl(&tok, up, json!({"itemId": item, "messageStatus": st}))
            .await["code"],
        "51021"
    );
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": ["a@welink"], "messageStatus": st})
        )
        .await["code"],
        "51021"
    );
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": ["a@welink"], "itemId": item})
        )
        .await["code"],
        "51021"
    );
    // Colours at update time are 0 gray / 1 yellow / 2 green (line 1365): "3" is refused.
    assert_eq!(s.wl(&tok, up, json!({"toUserList": ["a@welink"], "itemId": item, "messageStatus": st, "statusColor": "3"})).await["code"], "51104");
    assert_eq!(s.wl(&tok, up, json!({"toUserList": ["a@welink"], "itemId": item, "messageStatus": {"EN": "x", "CN": "已完成"}})).await["code"], "51104");
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": many, "itemId": item, "messageStatus": st})
        )
        .await["code"],
        "51018"
    );
    // A card without a state: 51107.
    let plain = s.wl(&tok, CARD, card(&["a@welink"])).await["itemId"].clone();
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": ["a@welink"], "itemId": plain, "messageStatus": st})
        )
        .await["code"],
        "51107"
    );
    // Unknown itemId: 51033. Public account: must repeat publicAccID (line 1366).
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": ["a"], "itemId": "nope", "messageStatus": st})
        )
        .await["code"],
        "51033"
    );
    let pub_item = stateful_card(&s, &tok, &["a@welink"], Some("HXgPDrJqhYzHR9NcfZ")).await;
    assert_eq!(
        s.wl(
            &tok,
            up,
            json!({"toUserList": ["a@welink"], "itemId": pub_item, "messageStatus": st})
        )
        .await["code"],
        "51033"
    );
    assert_eq!(s.wl(&tok, up, json!({"toUserList": ["a@welink"], "itemId": pub_item, "messageStatus": st, "publicAccID": "HXgPDrJqhYzHR9NcfZ"})).await["code"], "0");
}

// 000 lines 1467-1517: recall by itemId; 51111 when the message does not exist (also after a
// first recall); 51100 across tenants (here: another client_id).
#[tokio::test]
async fn recall_rules() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let other = s.welink_token("other-app").await;
    let rc = "/api/messages/v1/recall";
    let item = s.wl(&tok, CARD, card(&["a@welink"])).await["itemId"].clone();
    assert_eq!(
        s.wl(&other, rc, json!({"itemId": item})).await["code"],
        "51100"
    );
    assert_eq!(
        s.wl(&tok, rc, json!({"itemId": item})).await,
        json!({"code": "0", "message": "ok"})
    );
    assert_eq!(
        s.wl(&tok, rc, json!({"itemId": item})).await,
        json!({"code": "51111", "message": "需要撤回的消息不存在"})
    );
    assert_eq!(s.wl(&tok, rc, json!({})).await["code"], "51111");
    // A recalled card cannot take a state update any more.
    let st = stateful_card(&s, &tok, &["a@welink"], None).await;
    s.wl(&tok, rc, json!({"itemId": st})).await;
    let v = s.wl(&tok, "/api/messages/v1/update", json!({"toUserList": ["a@welink"], "itemId": st, "messageStatus": {"EN": "done", "CN": "已完成"}})).await;
    assert_eq!(v["code"], "51033");
}
