//! Juzi sidebar OAuth, 001_844017fd58a1860e.txt lines 105-136.

mod common;

use serde_json::{json, Value};

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn authorize(s: &common::Sim, query: &str) -> (u16, Option<url::Url>) {
    let r = no_redirect()
        .get(s.url(&format!("/oauth/connect/authorize?{query}")))
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|l| url::Url::parse(l.to_str().unwrap()).unwrap());
    (r.status().as_u16(), loc)
}

fn param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.into_owned())
}

// 001 lines 105-109: redirect back with code and state; state [a-zA-Z0-9], <= 128 bytes.
#[tokio::test]
async fn authorize_and_state_rule() {
    let s = common::start().await;
    let (st, loc) = authorize(
        &s,
        "redirect_uri=https%3A%2F%2Fgw.example%2Fsidebar%2Fcb%3Fx%3D1&state=Abc123",
    )
    .await;
    assert_eq!(st, 302);
    let loc = loc.unwrap();
    assert_eq!(loc.host_str(), Some("gw.example"));
    assert_eq!(param(&loc, "x").as_deref(), Some("1"));
    assert_eq!(param(&loc, "state").as_deref(), Some("Abc123"));
    assert!(param(&loc, "code").is_some());
    // state is optional (line 109 "否").
    let (st, loc) = authorize(&s, "redirect_uri=https%3A%2F%2Fgw.example%2Fcb").await;
    assert_eq!(st, 302);
    assert!(param(&loc.unwrap(), "state").is_none());
    let long = "a".repeat(129);
    for bad in ["ab-c", "a%20b", long.as_str(), ""] {
        let (st, _) = authorize(
            &s,
            &format!("redirect_uri=https%3A%2F%2Fgw.example%2Fcb&state={bad}"),
        )
        .await;
        assert_eq!(st, 400, "state {bad:?}");
    }
    let (st, _) = authorize(
        &s,
        &format!(
            "redirect_uri=https%3A%2F%2Fgw.example%2Fcb&state={}",
            "a".repeat(128)
        ),
    )
    .await;
    assert_eq!(st, 302);
    assert_eq!(authorize(&s, "state=abc").await.0, 400);
    assert_eq!(
        authorize(&s, "redirect_uri=javascript%3Aalert(1)").await.0,
        400
    );
}

async fn code(s: &common::Sim) -> String {
    let (_, loc) = authorize(s, "redirect_uri=https%3A%2F%2Fgw.example%2Fcb&state=s1").await;
    param(&loc.unwrap(), "code").unwrap()
}

// 001 lines 110-136: getUserInfo answers the account; errcode 0/-1/-2/-4; the code is
// single-use and expires after 5 minutes (line 113).
#[tokio::test]
async fn single_use_codes_and_expiry() {
    let s = common::start().await;
    let c = code(&s).await;
    let (_, v) = s.get(&format!("/api/v1/oauth/getUserInfo?code={c}")).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["errmsg"], "");
    assert_eq!(v["data"]["corpId"], "ww5ecc1acd5dce6e9d");
    assert_eq!(v["data"]["botId"], "647844cd6059597fc5c79f38");
    let (_, again) = s.get(&format!("/api/v1/oauth/getUserInfo?code={c}")).await;
    assert_eq!(again["errcode"], -2);
    let c2 = code(&s).await;
    s.control("/_sim/clock", json!({"advance_ms": 5 * 60_000 + 1}))
        .await;
    assert_eq!(
        s.get(&format!("/api/v1/oauth/getUserInfo?code={c2}"))
            .await
            .1["errcode"],
        -2
    );
    assert_eq!(
        s.get("/api/v1/oauth/getUserInfo?code=").await.1["errcode"],
        -1
    );
    assert_eq!(
        s.get("/api/v1/oauth/getUserInfo?code=short").await.1["errcode"],
        -1
    );
    let unknown = "A".repeat(32);
    assert_eq!(
        s.get(&format!("/api/v1/oauth/getUserInfo?code={unknown}"))
            .await
            .1["errcode"],
        -4
    );
}

// /_sim/juzi/user chooses who the next authorizations sign in.
#[tokio::test]
async fn settable_user() {
    let s = common::start().await;
    let v = s
        .control(
            "/_sim/juzi/user",
            json!({"userId": "agent7", "botId": "bot7"}),
        )
        .await;
    assert_eq!(v["userId"], "agent7");
    let c = code(&s).await;
    let (_, v): (u16, Value) = s.get(&format!("/api/v1/oauth/getUserInfo?code={c}")).await;
    assert_eq!(v["data"]["userId"], "agent7");
    assert_eq!(v["data"]["botId"], "bot7");
    assert_eq!(v["data"]["corpId"], "ww5ecc1acd5dce6e9d");
}
