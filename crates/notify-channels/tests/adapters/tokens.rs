//! Token requests and answers: issued, rejected, rate limited, failed.

use std::time::Duration;

use notify_channels::config::TokenAuth;
use notify_channels::{build_channel, Body, Method, TokenAnswer};
use notify_core::ChannelKind::{self, WecomApp, WecomWorkid, Welink, Xiaowei};
use serde_json::json;

use super::common::{answer, channel, config};

fn parse(kind: ChannelKind, status: u16, body: serde_json::Value) -> TokenAnswer {
    channel(kind).adapter.parse_token(&answer(status, body))
}

fn class(t: &TokenAnswer) -> &'static str {
    match t {
        TokenAnswer::Issued { .. } => "issued",
        TokenAnswer::Rejected { .. } => "rejected",
        TokenAnswer::RateLimited { .. } => "rate_limited",
        TokenAnswer::Failed { .. } => "failed",
    }
}

#[test]
fn welink_token_request_and_answers() {
    for kind in [Welink, Xiaowei] {
        let r = channel(kind).adapter.token_request().unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "http://upstream.test/api/auth/v2/tickets");
        assert_eq!(
            r.body,
            Body::Json(
                json!({"client_id": "20190828163922073733756", "client_secret": "welink-secret"})
            )
        );
    }
    assert_eq!(
        parse(
            Welink,
            200,
            json!({"code": "0", "message": "ok", "access_token": "5e25", "expires_in": 7200})
        ),
        TokenAnswer::Issued {
            token: "5e25".into(),
            expires_in_s: 7200,
            refresh_ahead_s: 300
        }
    );
    // A short life still leaves time to use the token.
    assert_eq!(
        parse(
            Welink,
            200,
            json!({"code": "0", "access_token": "t", "expires_in": "400"})
        ),
        TokenAnswer::Issued {
            token: "t".into(),
            expires_in_s: 400,
            refresh_ahead_s: 200
        }
    );
    for (code, want) in [
        ("10007", "rejected"),
        ("41403", "rejected"),
        ("41579", "rejected"),
        ("41580", "rejected"),
        ("48503", "rate_limited"),
        ("58602", "rate_limited"),
        ("41500", "failed"),
        ("411145", "failed"),
        ("424242", "failed"),
    ] {
        let t = parse(Welink, 200, json!({"code": code, "message": "m"}));
        assert_eq!(class(&t), want, "{code}: {t:?}");
    }
    assert_eq!(class(&parse(Welink, 502, json!({}))), "failed");
    // A rate limit carries its first back-off step, as a send's does.
    assert_eq!(
        backoff(&parse(Welink, 200, json!({"code": "48503"}))),
        Some(Duration::from_secs(1))
    );
}

fn backoff(t: &TokenAnswer) -> Option<Duration> {
    match t {
        TokenAnswer::RateLimited {
            initial_backoff, ..
        } => Some(*initial_backoff),
        _ => None,
    }
}

#[test]
fn wecom_app_token_request_and_answers() {
    let r = channel(WecomApp).adapter.token_request().unwrap();
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.url, "http://upstream.test/cgi-bin/gettoken");
    assert_eq!(
        r.query,
        vec![
            ("corpid".to_string(), "ww5ecc1acd5dce6e9d".to_string()),
            ("corpsecret".to_string(), "wecom-secret".to_string())
        ]
    );
    assert!(r.secret_names.contains(&"corpsecret".to_string()));
    assert!(r.secret_names.contains(&"corpid".to_string()));
    assert_eq!(
        parse(
            WecomApp,
            200,
            json!({"errcode": 0, "errmsg": "ok", "access_token": "AT", "expires_in": 7200})
        ),
        TokenAnswer::Issued {
            token: "AT".into(),
            expires_in_s: 7200,
            refresh_ahead_s: 300
        }
    );
    for (code, want) in [
        (40001, "rejected"),
        (40013, "rejected"),
        (40091, "rejected"),
        (45031, "rejected"),
        (60020, "rejected"),
        (45009, "rate_limited"),
        (45033, "rate_limited"),
        (-1, "failed"),
    ] {
        let t = parse(WecomApp, 200, json!({"errcode": code, "errmsg": "m"}));
        assert_eq!(class(&t), want, "{code}: {t:?}");
    }
    // gettoken's 45009 blocks for the rest of the minute (contract §5).
    assert_eq!(
        backoff(&parse(WecomApp, 200, json!({"errcode": 45009}))),
        Some(Duration::from_secs(60))
    );
}

#[test]
fn workid_token_request_basic_and_form() {
    let r = channel(WecomWorkid).adapter.token_request().unwrap();
    assert_eq!(r.url, "http://upstream.test/oauth/token");
    assert_eq!(
        r.basic_auth,
        Some(("workid-client".into(), "workid-secret".into()))
    );
    assert_eq!(
        r.body,
        Body::Form(vec![("grant_type".into(), "client_credentials".into())])
    );

    let mut c = config(WecomWorkid);
    c.token_auth = TokenAuth::Form;
    let r = build_channel("w", &c)
        .unwrap()
        .adapter
        .token_request()
        .unwrap();
    assert_eq!(r.basic_auth, None);
    assert_eq!(
        r.body,
        Body::Form(vec![
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), "workid-client".into()),
            ("client_secret".into(), "workid-secret".into()),
        ])
    );
}

#[test]
fn workid_token_answers() {
    assert_eq!(
        parse(
            WecomWorkid,
            200,
            json!({"access_token": "B", "token_type": "Bearer", "expires_in": 3600})
        ),
        TokenAnswer::Issued {
            token: "B".into(),
            expires_in_s: 3600,
            refresh_ahead_s: 300
        }
    );
    assert_eq!(
        class(&parse(WecomWorkid, 401, json!({"error": "invalid_client"}))),
        "rejected"
    );
    assert_eq!(
        class(&parse(
            WecomWorkid,
            400,
            json!({"error": "unauthorized_client"})
        )),
        "rejected"
    );
    assert_eq!(class(&parse(WecomWorkid, 429, json!({}))), "rate_limited");
    assert_eq!(
        backoff(&parse(WecomWorkid, 429, json!({}))),
        Some(Duration::from_secs(1))
    );
    assert_eq!(class(&parse(WecomWorkid, 500, json!({}))), "failed");
}

#[test]
fn juzi_needs_no_token() {
    assert!(channel(ChannelKind::Juzi).adapter.token_request().is_none());
}
