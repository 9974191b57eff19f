//! The /_sim control API: call log queries, reset, stats, the call page.

mod common;

use common::{card, CARD};
use notify_simulator::RecordedCall;
use serde_json::{json, Value};

#[tokio::test]
async fn call_log_records_everything_and_filters() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    s.wl(&tok, CARD, card(&["a@welink"])).await;
    s.get("/cgi-bin/nope").await;
    let calls = s.sim.calls();
    assert_eq!(calls.len(), 3);
    let c = &calls[1];
    assert_eq!(c.seq, 2);
    assert_eq!(c.method, "POST");
    assert_eq!(c.path, CARD);
    assert_eq!(c.headers["x-wlk-authorization"], tok);
    assert_eq!(c.body["toUserList"], json!(["a@welink"]));
    assert_eq!(c.status, 200);
    assert_eq!(c.answer["code"], "0");
    assert_eq!(c.client_id.as_deref(), Some("app"));
    assert_eq!(c.peer_ip, "127.0.0.1");
    assert!(!c.dropped);
    assert_eq!(calls[2].status, 404);
    // The HTTP view is the same data.
    let (_, v) = s.get(&format!("/_sim/calls?path={CARD}")).await;
    let via_http: Vec<RecordedCall> = serde_json::from_value(v["calls"].clone()).unwrap();
    assert_eq!(via_http, vec![calls[1].clone()]);
    let (_, v) = s.get("/_sim/calls?since_seq=1&limit=1").await;
    assert_eq!(v["calls"].as_array().unwrap().len(), 1);
    assert_eq!(v["calls"][0]["seq"], 2);
    let (_, v) = s.get("/_sim/calls?path_prefix=/cgi-bin/").await;
    assert_eq!(v["calls"].as_array().unwrap().len(), 1);
    // Form bodies are kept as strings.
    s.oauth_token("gw", "s").await;
    assert_eq!(
        s.sim.calls().pop().unwrap().body,
        json!("grant_type=client_credentials")
    );
}

#[tokio::test]
async fn reset_clears_state_but_keeps_caps() {
    let s = common::start().await;
    s.control("/_sim/caps", json!({"per_second": 7})).await;
    let tok = s.welink_token("app").await;
    s.control(
        "/_sim/faults",
        json!({"kind": "http_status", "http_status": 500}),
    )
    .await;
    s.control("/_sim/clock", json!({"advance_ms": 1000})).await;
    s.control("/_sim/reset", json!({})).await;
    assert!(s.sim.calls().is_empty());
    assert_eq!(s.get("/_sim/caps").await.1["per_second"], 7);
    assert_eq!(s.get("/_sim/clock").await.1["offset_ms"], 0);
    // Tokens are gone, faults are gone.
    assert_eq!(s.wl(&tok, CARD, card(&["a"])).await["code"], "1000");
    let (_, v) = s.get("/_sim/faults").await;
    assert_eq!(v["faults"], json!([]));
    // Unknown cap names are refused.
    let (st, _) = s.post("/_sim/caps", json!({"per_hour": 1})).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn stats_count_by_path_and_code() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    s.wl(&tok, CARD, card(&["a"])).await;
    s.wl(&tok, CARD, card(&[])).await;
    let (_, v): (u16, Value) = s.get("/_sim/stats").await;
    assert_eq!(v["total"], 3);
    assert_eq!(v["by_path"][CARD]["total"], 2);
    assert_eq!(v["by_path"][CARD]["by_code"]["0"], 1);
    assert_eq!(v["by_path"][CARD]["by_code"]["51062"], 1);
    assert_eq!(v["welink_interfaces"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn call_page_lists_latest_calls() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    s.wl(&tok, CARD, card(&["<script>@welink"])).await;
    for path in ["/_sim/", "/_sim"] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(html.contains(CARD));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>@"));
    }
}

#[tokio::test]
async fn a_list_of_faults_or_apps_is_applied_whole_or_not_at_all() {
    let s = common::start().await;
    // The second fault is malformed: 400 naming it, and the first is not applied either.
    let (st, v) = s
        .post(
            "/_sim/faults",
            json!([
                {"kind": "http_status", "http_status": 500},
                {"kind": "no_such_kind"}
            ]),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("bad fault"), "{v}");
    assert_eq!(s.get("/_sim/faults").await.1["faults"], json!([]));
    let (st, v) = s
        .post(
            "/_sim/faults",
            json!({"kind": "http_status", "http_status": 500, "count": 0}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(s.get("/_sim/faults").await.1["faults"], json!([]));
    // Two faults in one call are both applied.
    let (st, v) = s
        .post(
            "/_sim/faults",
            json!([
                {"kind": "http_status", "http_status": 500, "count": 1},
                {"kind": "http_status", "http_status": 502, "count": 1}
            ]),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["faults"].as_array().unwrap().len(), 2, "{v}");

    // Apps: one with an empty secret spoils the list.
    let before = s.get("/_sim/apps").await.1["apps"].clone();
    let (st, v) = s
        .post(
            "/_sim/apps",
            json!([
                {"kind": "welink", "client_id": "ok-app", "client_secret": "s"},
                {"kind": "welink", "client_id": "no-secret", "client_secret": ""}
            ]),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("client_secret"),
        "{v}"
    );
    assert_eq!(s.get("/_sim/apps").await.1["apps"], before);
    let (st, v) = s
        .post(
            "/_sim/apps",
            json!({"kind": "welink", "client_id": "ok-app", "client_secret": "s"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        v["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["client_id"] == "ok-app"),
        "{v}"
    );
}

#[tokio::test]
async fn the_recipients_page_draws_sends_escaped() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let mut body = card(&["a@welink"]);
    body["msgTitle"] = json!("<b>Disk</b> almost full");
    s.wl(&tok, CARD, body).await;
    let r = s.http.get(s.url("/_sim/recipients")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<strong>WeLink card</strong>"), "{html}");
    assert!(html.contains("&lt;b&gt;Disk&lt;/b&gt; almost full"));
    assert!(!html.contains("<b>Disk"));
    // The token fetch is not a message anyone receives.
    assert_eq!(html.matches("<article").count(), 1);
}

/// A gateway stand-in: fixed waiting chats.
struct Fixed(Vec<notify_simulator::WaitingChat>);

impl notify_simulator::WaitingChats for Fixed {
    fn waiting_chats(&self) -> notify_simulator::WaitingChatsFuture<'_> {
        let chats = self.0.clone();
        Box::pin(async move { Ok(chats) })
    }
}

#[tokio::test]
async fn juzi_chats_list_the_gateways_waiting_chats_and_keep_what_is_sent() {
    let s = common::start().await;
    let (_, alone) = s.get("/_sim/juzi/chats").await;
    assert_eq!(alone["linked"], false);
    assert_eq!(alone["chats"], json!([]));

    s.sim.link_gateway(notify_simulator::GatewayLink {
        sidebar_url: "http://127.0.0.1:8080/sidebar/".into(),
        chats: std::sync::Arc::new(Fixed(vec![notify_simulator::WaitingChat {
            channel: "juzi".into(),
            chat_key: "chat:wrA@bot1".into(),
            waiting: 2,
        }])),
    });
    let (_, v) = s.get("/_sim/juzi/chats").await;
    assert_eq!(v["linked"], true);
    assert_eq!(v["gateway_origin"], "http://127.0.0.1:8080");
    assert_eq!(v["agent"]["bot_id"], "647844cd6059597fc5c79f38");
    assert_eq!(
        v["chats"],
        json!([{"channel": "juzi", "chat_key": "chat:wrA@bot1", "kind": "chat", "id": "wrA",
                "bot_id": "bot1", "waiting": 2, "messages": []}])
    );

    let text = json!({"msgtype": "text", "text": {"content": "hello"}});
    let (status, v) = s
        .post(
            "/_sim/juzi/chats/send",
            json!({"channel": "juzi", "chat_key": "contact:wmB", "payload": text}),
        )
        .await;
    assert_eq!((status, v), (200, json!({"err_msg": "sendChatMessage:ok"})));
    let (_, v) = s
        .post(
            "/_sim/juzi/chats/send",
            json!({"channel": "juzi", "chat_key": "contact:wmB",
                   "payload": {"msgtype": "text", "text": {"content": ""}}}),
        )
        .await;
    assert_eq!(v["err_msg"], "text content is empty");
    let (status, v) = s
        .post("/_sim/juzi/chats/send", json!({"chat_key": "x"}))
        .await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("channel"), "{v}");

    // A chat something was sent to is listed too, with only the accepted message.
    let (_, v) = s.get("/_sim/juzi/chats").await;
    let chats = v["chats"].as_array().unwrap();
    assert_eq!(chats.len(), 2);
    assert_eq!(chats[1]["chat_key"], "contact:wmB");
    assert_eq!(chats[1]["kind"], "contact");
    assert_eq!(chats[1]["waiting"], 0);
    assert_eq!(chats[1]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(chats[1]["messages"][0]["payload"], text);

    // Reset forgets the chat's messages but keeps the gateway link.
    s.control("/_sim/reset", json!({})).await;
    let (_, v) = s.get("/_sim/juzi/chats").await;
    assert_eq!(v["linked"], true);
    assert_eq!(v["chats"].as_array().unwrap().len(), 1);
}
