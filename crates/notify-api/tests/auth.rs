//! Caller authentication (contract §3): signatures, bearer tokens, the connector scheme,
//! rotation, replay, scopes, tenants and rate limits.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use notify_api::auth::signature;
use serde_json::json;

/// The vector in README.md: any signer must produce this.
#[test]
fn signature_vector() {
    let body = br#"{"title":"hi","targets":[{"channel":"logch"}]}"#;
    assert_eq!(
        signature::string_to_sign("AK-TEST", "1795428000000", "POST", "/v1/messages?dry=1", body),
        "AK-TEST\n1795428000000\nPOST\n/v1/messages?dry=1\n56f7c61b508b2b77e5a11ed40a6b22e131ed78e5ccb6b85e3ba577b702fc4a29"
    );
    assert_eq!(
        signature::sign(
            "sk-test-0123456789",
            "AK-TEST",
            "1795428000000",
            "POST",
            "/v1/messages?dry=1",
            body
        ),
        "pNib9JnRUOJ80rHXKdIY5V8bqxs2jPwr2sNzboew9E0="
    );
    assert_eq!(
        signature::connector_sign(
            "sk-test-0123456789",
            "AK-TEST",
            "1795428000000",
            "POST",
            "/v1/messages/"
        ),
        "p36kyhcqdmUZwpTeW8HwIeLQ/RkK1gMu5hBrwgBGWS0="
    );
}

async fn signed_requests_pass_and_bad_ones_are_401(app: TestApp) {
    let body = message("signed").to_string();
    let ok = app
        .signed(SENDER, "POST", "/v1/messages", body.as_bytes())
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);

    let now = app.clock_now();
    // Stale and future timestamps.
    for ts in [now - 300_001, now + 300_001] {
        let a = app
            .call(signed_req(
                SENDER,
                &ts.to_string(),
                "POST",
                "/v1/messages",
                body.as_bytes(),
            ))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.code(), "unauthenticated");
    }
    // Inside the window is fine.
    let a = app
        .call(signed_req(
            SENDER,
            &(now - 299_000).to_string(),
            "POST",
            "/v1/messages",
            body.as_bytes(),
        ))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    // Seconds instead of milliseconds.
    let a = app
        .call(signed_req(
            SENDER,
            &(now / 1000).to_string(),
            "POST",
            "/v1/messages",
            body.as_bytes(),
        ))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // A tampered body.
    let ts = (now + 1).to_string();
    let mut req = signed_req(SENDER, &ts, "POST", "/v1/messages", body.as_bytes());
    *req.body_mut() = Body::from(message("tampered").to_string());
    assert_eq!(app.call(req).await.status, StatusCode::UNAUTHORIZED);

    // A tampered query.
    let req = signed_req(SENDER, &ts, "GET", "/v1/messages?limit=5", b"");
    let (mut parts, b) = req.into_parts();
    parts.uri = "/v1/messages?limit=6".parse().unwrap();
    assert_eq!(
        app.call(Request::from_parts(parts, b)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The untampered query passes.
    let a = app
        .call(signed_req(SENDER, &ts, "GET", "/v1/messages?limit=5", b""))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    // Another method than the one signed.
    let req = signed_req(SENDER, &ts, "GET", "/v1/messages", b"");
    let (mut parts, b) = req.into_parts();
    parts.method = axum::http::Method::POST;
    assert_eq!(
        app.call(Request::from_parts(parts, b)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The wrong secret, an unknown key, missing headers.
    let a = app
        .call(signed_req(
            (SENDER.0, "wrong"),
            &ts,
            "GET",
            "/v1/messages",
            b"",
        ))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = app
        .call(signed_req(
            ("AK-NOPE", SENDER.1),
            &ts,
            "GET",
            "/v1/messages",
            b"",
        ))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/v1/messages")
        .header("x-access-key", SENDER.0)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(req).await.status, StatusCode::UNAUTHORIZED);
    let a = app
        .call(Request::get("/v1/messages").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "unauthenticated");
}

async fn a_replayed_signature_makes_no_second_message(app: TestApp) {
    let body = message("replay me").to_string();
    let ts = app.clock_now().to_string();
    let first = app
        .call(signed_req(
            SENDER,
            &ts,
            "POST",
            "/v1/messages",
            body.as_bytes(),
        ))
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = app
        .call(signed_req(
            SENDER,
            &ts,
            "POST",
            "/v1/messages",
            body.as_bytes(),
        ))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "replayed_request");
    let list = app.bearer(SENDER, "GET", "/v1/messages", b"").await;
    assert_eq!(list.body["messages"].as_array().unwrap().len(), 1);
    // Reads may be repeated.
    let r1 = app
        .call(signed_req(SENDER, &ts, "GET", "/v1/messages", b""))
        .await;
    let r2 = app
        .call(signed_req(SENDER, &ts, "GET", "/v1/messages", b""))
        .await;
    assert_eq!((r1.status, r2.status), (StatusCode::OK, StatusCode::OK));
}

async fn bearer_tokens_and_rotation(app: TestApp) {
    let a = app
        .bearer(
            SENDER,
            "POST",
            "/v1/messages",
            message("b").to_string().as_bytes(),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let a = app
        .bearer(("x", "not-a-secret"), "GET", "/v1/messages", b"")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/v1/messages")
        .header("authorization", "Basic abc")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(req).await.status, StatusCode::UNAUTHORIZED);
    // Rotation: the new and the previous secret both sign and both are bearer tokens.
    let body = message("rot").to_string();
    let ts = app.clock_now().to_string();
    let a = app
        .call(signed_req(
            ROTATED,
            &ts,
            "POST",
            "/v1/messages",
            body.as_bytes(),
        ))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let a = app
        .call(signed_req(
            (ROTATED.0, ROTATED_OLD),
            &(app.clock_now() + 1).to_string(),
            "POST",
            "/v1/messages",
            body.as_bytes(),
        ))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let a = app
        .bearer((ROTATED.0, ROTATED_OLD), "GET", "/v1/messages", b"")
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

async fn the_connector_scheme_for_clients_that_allow_it(app: TestApp) {
    let ts = app.clock_now().to_string();
    let req = |key: (&str, &str), path: &str, sign_path: &str| {
        let sig = signature::connector_sign(key.1, key.0, &ts, "POST", sign_path);
        Request::post(path)
            .header("x-connector-accesskeyid", key.0)
            .header("x-connector-signature-timestamp", &ts)
            .header("x-connector-signature", sig)
            .body(Body::from(message("from welink").to_string()))
            .unwrap()
    };
    let a = app
        .call(req(CONNECTOR, "/v1/messages", "/v1/messages"))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    // A client without connector_signing cannot use it.
    let a = app.call(req(SENDER, "/v1/messages", "/v1/messages")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // The same signature again is a replay.
    let a = app
        .call(req(CONNECTOR, "/v1/messages", "/v1/messages"))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    // Signed for another path.
    let a = app.call(req(CONNECTOR, "/v1/messages", "/v1/other")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

async fn scopes_and_tenants(app: TestApp) {
    let mine = app.post(&message("mine")).await;
    let id = mine.body["id"].as_str().unwrap().to_string();
    // A reader cannot send.
    let a = app
        .bearer(
            READER,
            "POST",
            "/v1/messages",
            message("r").to_string().as_bytes(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "missing_scope");
    // ...but reads its tenant's messages.
    let a = app
        .bearer(READER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::OK);
    // Another tenant gets 404 for reads, 403 for actions, and never sees it listed.
    let a = app
        .bearer(OTHER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .bearer(OTHER, "POST", &format!("/v1/messages/{id}/recall"), b"")
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.bearer(OTHER, "GET", "/v1/messages", b"").await;
    assert_eq!(a.body["messages"], json!([]));
    // A reader cannot recall; only admins see channels.
    let a = app
        .bearer(READER, "POST", &format!("/v1/messages/{id}/recall"), b"")
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.bearer(SENDER, "GET", "/v1/channels", b"").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // The admin sees every tenant.
    let a = app
        .bearer(ADMIN, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = app.bearer(ADMIN, "GET", "/v1/messages", b"").await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 1);
    // A missing or malformed id is a 404.
    let a = app
        .bearer(
            SENDER,
            "GET",
            "/v1/messages/msg_01JZZZZZZZZZZZZZZZZZZZZZZZ",
            b"",
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .bearer(SENDER, "GET", "/v1/messages/nonsense", b"")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

async fn the_rate_limit_is_429_with_retry_after(app: TestApp) {
    let body = message("fast").to_string();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            app.bearer(LIMITED, "POST", "/v1/messages", body.as_bytes())
                .await,
        );
    }
    let limited: Vec<_> = statuses
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !limited.is_empty(),
        "{:?}",
        statuses.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(
        limited[0].headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(limited[0].code(), "rate_limited");
    // Other callers are not affected.
    assert_eq!(app.post(&message("x")).await.status, StatusCode::ACCEPTED);
}

on_both_backends!(
    signed_requests_pass_and_bad_ones_are_401,
    a_replayed_signature_makes_no_second_message,
    bearer_tokens_and_rotation,
    the_connector_scheme_for_clients_that_allow_it,
    scopes_and_tenants,
    the_rate_limit_is_429_with_retry_after,
);

#[tokio::test]
async fn no_clients_means_every_request_is_refused() {
    let mut config = config();
    config.clients.clear();
    with_app_config(Backend::Sqlite, config, |app| async move {
        let a = app.post(&message("x")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let a = app
            .call(Request::get("/v1/messages").body(Body::empty()).unwrap())
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let a = app
            .call(Request::get("/healthz").body(Body::empty()).unwrap())
            .await;
        assert_eq!(a.status, StatusCode::OK);
    })
    .await;
}
