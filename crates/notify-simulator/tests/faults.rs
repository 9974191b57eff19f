//! Fault injection through /_sim/faults: code, http_status, latency, reset, timeout.

mod common;

use std::time::{Duration, Instant};

use common::{card, CARD};
use serde_json::json;

#[tokio::test]
async fn code_fault_in_each_upstream_shape_with_count() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    s.control(
        "/_sim/faults",
        json!({"path": CARD, "kind": "code", "code": "51078", "count": 2}),
    )
    .await;
    assert_eq!(
        s.wl(&tok, CARD, card(&["a"])).await,
        json!({"code": "51078", "message": "injected fault"})
    );
    assert_eq!(s.wl(&tok, CARD, card(&["a"])).await["code"], "51078");
    assert_eq!(s.wl(&tok, CARD, card(&["a"])).await["code"], "0");
    // WeCom shape: numeric errcode; work-ID: envelope with ok false.
    s.control(
        "/_sim/faults",
        json!({"path": "/cgi-bin/message/send", "kind": "code", "code": "-1", "count": 1}),
    )
    .await;
    let wt = s.wecom_token("ww1").await;
    let v = s
        .wecom_send(
            &wt,
            json!({"touser": "a", "msgtype": "text", "agentid": 1, "text": {"content": "x"}}),
        )
        .await;
    assert_eq!(v["errcode"], -1);
    s.control(
        "/_sim/faults",
        json!({"path": "/integration/wx_work/*", "kind": "code", "code": 500, "count": 1}),
    )
    .await;
    let bt = s.oauth_token("gw", "s").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, v) = s
        .workid(
            &bt,
            "/integration/wx_work/sendByWorkIds",
            json!({"workIds": ["a"], "content": "x"}),
        )
        .await;
    assert_eq!(v["code"], 500);
    assert_eq!(v["ok"], false);
    let last = s.sim.calls().pop().unwrap();
    assert_eq!(last.notes, vec!["fault:code".to_owned()]);
}

#[tokio::test]
async fn http_status_fault_everywhere_until_cleared() {
    let s = common::start().await;
    s.control(
        "/_sim/faults",
        json!({"kind": "http_status", "http_status": 503}),
    )
    .await;
    let (st, _) = s
        .post(
            "/api/auth/v2/tickets",
            json!({"client_id": "a", "client_secret": "b"}),
        )
        .await;
    assert_eq!(st, 503);
    let (st, _) = s.get("/cgi-bin/gettoken?corpid=a&corpsecret=b").await;
    assert_eq!(st, 503);
    // The control API is never faulted.
    let r = s.http.delete(s.url("/_sim/faults")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (st, _) = s.get("/cgi-bin/gettoken?corpid=a&corpsecret=b").await;
    assert_eq!(st, 200);
    // A fault that cannot fire is refused when posted.
    let (st, _) = s.post("/_sim/faults", json!({"kind": "code"})).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn latency_fault_answers_late_but_does_the_work() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    s.control(
        "/_sim/faults",
        json!({"path": CARD, "kind": "latency", "latency_ms": 300, "count": 1}),
    )
    .await;
    let started = Instant::now();
    let v = s.wl(&tok, CARD, card(&["a"])).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(v["code"], "0");
    // A client that gives up early: the message was still sent (an unknown outcome).
    s.control(
        "/_sim/faults",
        json!({"path": CARD, "kind": "latency", "latency_ms": 5000, "count": 1}),
    )
    .await;
    let impatient = s
        .http
        .post(s.url(CARD))
        .header("x-wlk-Authorization", &tok)
        .timeout(Duration::from_millis(200))
        .json(&card(&["a"]))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    let last = s.calls_on(CARD).pop().unwrap();
    assert_eq!(last.answer["code"], "0");
    assert!(last.notes.contains(&"fault:latency".to_owned()));
}

#[tokio::test]
async fn reset_fault_closes_without_answer() {
    let s = common::start().await;
    s.control(
        "/_sim/faults",
        json!({"path": "/cgi-bin/gettoken", "kind": "reset", "count": 1}),
    )
    .await;
    let err = s
        .http
        .get(s.url("/cgi-bin/gettoken?corpid=a&corpsecret=b"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.status().is_none());
    let last = s.sim.calls().pop().unwrap();
    assert_eq!(last.status, 0);
    assert!(last.notes.contains(&"fault:reset".to_owned()));
    // The next call is answered normally on a new connection.
    assert_eq!(
        s.get("/cgi-bin/gettoken?corpid=a&corpsecret=b").await.1["errcode"],
        0
    );
}

#[tokio::test]
async fn timeout_fault_holds_until_the_client_gives_up() {
    let s = common::start().await;
    s.control("/_sim/faults", json!({"path": CARD, "kind": "timeout"}))
        .await;
    let started = Instant::now();
    let err = s
        .http
        .post(s.url(CARD))
        .timeout(Duration::from_millis(300))
        .json(&card(&["a"]))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert!(started.elapsed() < Duration::from_secs(5));
    let last = s.calls_on(CARD).pop().unwrap();
    assert_eq!(last.status, 504);
    assert!(last.notes.contains(&"fault:timeout".to_owned()));
    // The held call created nothing (no itemId was issued).
    assert!(last.answer.get("itemId").is_none());
}
