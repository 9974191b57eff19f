//! Xiaowei push, 000 lines 1519-1640.

mod common;

use serde_json::{json, Value};

const PUSH: &str = "/api/athenaservice/v1/contextaware/push";

fn push() -> Value {
    json!({"toUserList": ["xxx@welink"], "titleCn": "你好, 欢迎使用WeLink!", "urlCn": "https://example.com/cn"})
}

fn shanghai_day_start_ms(now_ms: i64) -> i64 {
    let day = 86_400_000;
    let local = now_ms + 8 * 3_600_000;
    local - local.rem_euclid(day) - 8 * 3_600_000
}

// 000 lines 750 and 1523: 100 calls per enterprise per day; the 101st gets 58604 (line 1632);
// a new Asia/Shanghai day (moved with /_sim/clock) opens the quota again.
#[tokio::test]
async fn daily_quota_and_day_change() {
    let s = common::start().await;
    s.control(
        "/_sim/caps",
        json!({"per_second": 1000, "per_minute": 100000}),
    )
    .await;
    // Put the clock at 23:59:00 Shanghai time.
    let (_, c) = s.get("/_sim/clock").await;
    let start = shanghai_day_start_ms(c["now_ms"].as_i64().unwrap()) + 86_400_000 - 60_000;
    s.control("/_sim/clock", json!({"set_ms": start})).await;
    let tok = s.welink_token("corp-a").await;
    for i in 0..100 {
        let v = s.wl(&tok, PUSH, push()).await;
        assert_eq!(v["code"], "0", "call {i}");
        assert!(v["data"]["pushId"].is_string());
        assert_eq!(v["message"], "ok");
    }
    let v = s.wl(&tok, PUSH, push()).await;
    assert_eq!(
        v,
        json!({"code": "58604", "message": "已超过今日调用最大次数限制"})
    );
    // Per enterprise: another client_id has its own 100.
    let other = s.welink_token("corp-b").await;
    assert_eq!(s.wl(&other, PUSH, push()).await["code"], "0");
    // Two minutes later it is tomorrow in Shanghai.
    s.control("/_sim/clock", json!({"advance_ms": 120_000}))
        .await;
    assert_eq!(s.wl(&tok, PUSH, push()).await["code"], "0");
    let (_, stats) = s.get("/_sim/stats").await;
    let days: Vec<&Value> = stats["xiaowei_days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["client_id"] == "corp-a")
        .collect();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["counted"], 100);
    assert_eq!(days[1]["counted"], 1);
}

// 000 lines 1556-1563: toUserList required <= 5000; titleCn 1-32 characters; titleEn 1-128;
// endDate YYYY-MM-DD at most 7 days ahead; links http/https/h5 (icons http/https), 1-1024.
#[tokio::test]
async fn field_rules_58601() {
    let s = common::start().await;
    let tok = s.welink_token("app").await;
    let (_, c) = s.get("/_sim/clock").await;
    let now = c["now_ms"].as_i64().unwrap();
    let date = |days: i64| {
        let ms = shanghai_day_start_ms(now) + days * 86_400_000 + 8 * 3_600_000;
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"titleCn": "t"}), "58601"),
        (json!({"toUserList": [], "titleCn": "t"}), "58601"),
        (
            json!({"toUserList": (0..5001).map(|i| format!("u{i}")).collect::<Vec<_>>(), "titleCn": "t"}),
            "58601",
        ),
        (
            json!({"toUserList": (0..5000).map(|i| format!("u{i}")).collect::<Vec<_>>(), "titleCn": "t"}),
            "0",
        ),
        (json!({"toUserList": ["a"], "titleCn": ""}), "58601"),
        (
            json!({"toUserList": ["a"], "titleCn": "一".repeat(32)}),
            "0",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "一".repeat(33)}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "titleEn": "e".repeat(129)}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "endDate": date(7)}),
            "0",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "endDate": date(8)}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "endDate": date(-1)}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "endDate": "2026/01/01"}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "urlCn": "h5://demo"}),
            "0",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "urlCn": "ftp://demo"}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "iconUrlCn": "h5://demo"}),
            "58601",
        ),
        (
            json!({"toUserList": ["a"], "titleCn": "t", "urlEn": format!("https://{}", "a".repeat(1020))}),
            "58601",
        ),
        // 58606: an illegal account among the recipients (line 1633).
        (
            json!({"toUserList": ["a", "invalid-x"], "titleCn": "t"}),
            "58606",
        ),
    ];
    for (body, code) in cases {
        let v = s.wl(&tok, PUSH, body.clone()).await;
        assert_eq!(v["code"], code, "{body}: {v}");
    }
}

// 000 line 1628: 58401 token check failed (unknown and revoked tokens).
#[tokio::test]
async fn bad_token_58401() {
    let s = common::start().await;
    assert_eq!(s.wl("nope", PUSH, push()).await["code"], "58401");
    let tok = s.welink_token("app").await;
    s.control("/_sim/tokens/revoke", json!({})).await;
    assert_eq!(s.wl(&tok, PUSH, push()).await["code"], "58401");
}
