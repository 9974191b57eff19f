//! Sliding-window caps, measured from the call log. 000 lines 716-725: per client_id per
//! interface 40/s and 1500/min, per IP 3000 per 20 s, all answered 48503.

mod common;

use common::{card, CARD};
use futures_util::future::join_all;
use serde_json::{json, Value};

async fn fire(s: &common::Sim, tok: &str, path: &str, body: Value, n: usize) -> Vec<Value> {
    join_all((0..n).map(|_| s.wl(tok, path, body.clone()))).await
}

fn count(answers: &[Value], code: &str) -> usize {
    answers.iter().filter(|a| a["code"] == code).count()
}

// 000 line 725: 40 calls per second per client_id per interface; the 5 over it get 48503.
#[tokio::test]
async fn forty_per_second_per_interface() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let answers = fire(&s, &tok, CARD, card(&["a@welink"]), 45).await;
    let calls = s.calls_on(CARD);
    let span = calls.last().unwrap().at_ms - calls.first().unwrap().at_ms;
    assert!(
        span < 1000,
        "the burst took {span} ms; the test needs it inside 1 s"
    );
    assert_eq!(count(&answers, "48503"), 5);
    assert_eq!(count(&answers, "0"), 40);
    // Another interface of the same client_id has its own budget (per interface).
    let img = json!({"toUserList": ["a"], "imageUrl": "https://x/y.png"});
    assert_eq!(s.wl(&tok, "/api/messages/v1/image", img).await["code"], "0");
    // The log proves it: 45 calls in one second, 40 admitted.
    let (_, stats) = s.get("/_sim/stats").await;
    let lane = stats["welink_interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["interface"] == CARD)
        .unwrap()
        .clone();
    assert_eq!(lane["max_1s"], 45);
    assert_eq!(lane["max_1s_accepted"], 40);
    assert_eq!(stats["by_path"][CARD]["by_code"]["48503"], 5);
    // Once the second has passed (monotonic clock moved, no sleeping), calls go through again.
    s.control("/_sim/clock", json!({"advance_mono_ms": 1000}))
        .await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "0");
}

// 000 line 725: 1500 per minute (here lowered through /_sim/caps to keep the test small).
#[tokio::test]
async fn per_minute_window() {
    let s = common::start().await;
    s.control("/_sim/caps", json!({"per_second": 1000, "per_minute": 50}))
        .await;
    let tok = s.welink_token("app").await;
    let answers = fire(&s, &tok, CARD, card(&["a@welink"]), 55).await;
    assert_eq!(count(&answers, "48503"), 5);
    s.control("/_sim/clock", json!({"advance_mono_ms": 59_000}))
        .await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "48503");
    s.control("/_sim/clock", json!({"advance_mono_ms": 1_000}))
        .await;
    assert_eq!(s.wl(&tok, CARD, card(&["a@welink"])).await["code"], "0");
    let (_, caps) = s.get("/_sim/caps").await;
    assert_eq!(caps["per_minute"], 50);
    assert_eq!(caps["per_ip_20s"], 3000);
}

// 000 line 723: per IP over every WeLink interface, token fetches and Xiaowei included.
#[tokio::test]
async fn per_ip_window_counts_every_welink_host_call() {
    let s = common::start().await;
    s.control("/_sim/caps", json!({"per_ip_20s": 10})).await;
    let tok = s.welink_token("app").await; // 1
    let a = fire(&s, &tok, CARD, card(&["a"]), 4).await; // 5
    assert_eq!(count(&a, "0"), 4);
    let x = json!({"toUserList": ["a@welink"], "titleCn": "你好"});
    let a = fire(
        &s,
        &tok,
        "/api/athenaservice/v1/contextaware/push",
        x.clone(),
        3,
    )
    .await; // 8
    assert_eq!(count(&a, "0"), 3);
    let img = json!({"toUserList": ["a"], "imageUrl": "https://x/y.png"});
    let a = fire(&s, &tok, "/api/messages/v1/image", img, 4).await; // 10, then 2 over
    assert_eq!(count(&a, "0"), 2);
    assert_eq!(count(&a, "48503"), 2);
    // Xiaowei answers the same cap with 58602 (000 line 1631).
    let a = s
        .wl(&tok, "/api/athenaservice/v1/contextaware/push", x)
        .await;
    assert_eq!(a["code"], "58602");
    let (_, v) = s
        .post(
            "/api/auth/v2/tickets",
            json!({"client_id": "app", "client_secret": "s"}),
        )
        .await;
    assert_eq!(v["code"], "48503");
    // Another caller IP has its own window.
    let r: Value = s
        .http
        .post(s.url(CARD))
        .header("x-wlk-Authorization", &tok)
        .header("x-sim-peer-ip", "10.0.0.2")
        .json(&card(&["a"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["code"], "0");
    let (_, stats) = s.get("/_sim/stats").await;
    let ip = stats["welink_ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["peer_ip"] == "127.0.0.1")
        .unwrap()
        .clone();
    assert_eq!(ip["max_20s_accepted"], 10);
    assert_eq!(ip["max_20s"], 14);
    s.control("/_sim/clock", json!({"advance_mono_ms": 20_000}))
        .await;
    assert_eq!(s.wl(&tok, CARD, card(&["a"])).await["code"], "0");
}

// Moving the wall clock does not touch the sliding windows (they use a monotonic clock).
#[tokio::test]
async fn wall_clock_offsets_do_not_open_windows() {
    let s = common::start().await;
    s.control("/_sim/caps", json!({"per_second": 2})).await;
    let tok = s.welink_token("app").await;
    fire(&s, &tok, CARD, card(&["a"]), 2).await;
    s.control("/_sim/clock", json!({"advance_ms": 3_600_000}))
        .await;
    // The token expired with the wall clock, so fetch another; the window is still full.
    let tok = s.welink_token("app").await;
    assert_eq!(s.wl(&tok, CARD, card(&["a"])).await["code"], "48503");
}
