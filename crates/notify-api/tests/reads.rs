//! Reads, pagination, parameters, health, request ids, OpenAPI and the admin views.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::json;

async fn pages_are_newest_first_and_complete(app: TestApp) {
    let mut posted = Vec::new();
    for i in 0..7 {
        let a = app.post(&message(&format!("page {i}"))).await;
        posted.push(a.body["id"].as_str().unwrap().to_string());
        app.clock.advance_ms(10);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/messages?limit=3&cursor={c}"),
            None => "/v1/messages?limit=3".into(),
        };
        let a = app.bearer(SENDER, "GET", &path, b"").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let page = a.body["messages"].as_array().unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.iter().map(|m| m["id"].as_str().unwrap().to_string()));
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    posted.reverse();
    assert_eq!(seen, posted);
    // Filters.
    let a = app
        .bearer(SENDER, "GET", "/v1/messages?q=PAGE%203", b"")
        .await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 1);
    let a = app
        .bearer(
            SENDER,
            "GET",
            "/v1/messages?status=accepted&channel=logch",
            b"",
        )
        .await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 7);
    let a = app
        .bearer(SENDER, "GET", "/v1/messages?status=sent", b"")
        .await;
    assert_eq!(a.body["messages"], json!([]));
    let since = T0 + 30;
    let a = app
        .bearer(SENDER, "GET", &format!("/v1/messages?since={since}"), b"")
        .await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 4);
    let a = app
        .bearer(
            SENDER,
            "GET",
            "/v1/messages?until=2026-11-23T10:00:00.030Z",
            b"",
        )
        .await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 3);
}

async fn an_admin_lists_one_tenant_and_a_caller_only_its_own(app: TestApp) {
    for (who, title) in [(SENDER, "t1 a"), (SENDER, "t1 b"), (OTHER, "t2 a")] {
        let body = serde_json::to_vec(&message(title)).unwrap();
        let a = app.bearer(who, "POST", "/v1/messages", &body).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    }
    let titles = |a: &Answer| -> Vec<String> {
        let mut t: Vec<String> = a.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["title"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    };
    let a = app.bearer(ADMIN, "GET", "/v1/messages", b"").await;
    assert_eq!(titles(&a), ["t1 a", "t1 b", "t2 a"], "{}", a.text);
    let a = app
        .bearer(ADMIN, "GET", "/v1/messages?tenant=t2", b"")
        .await;
    assert_eq!(titles(&a), ["t2 a"], "{}", a.text);
    let a = app
        .bearer(ADMIN, "GET", "/v1/messages?tenant=nobody", b"")
        .await;
    assert_eq!(a.body["messages"], json!([]), "{}", a.text);
    // A caller may name its own tenant, never another.
    let a = app
        .bearer(SENDER, "GET", "/v1/messages?tenant=t1", b"")
        .await;
    assert_eq!(titles(&a), ["t1 a", "t1 b"], "{}", a.text);
    let a = app
        .bearer(SENDER, "GET", "/v1/messages?tenant=t2", b"")
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.code(), "forbidden");
    let a = app.bearer(SENDER, "GET", "/v1/messages", b"").await;
    assert_eq!(titles(&a), ["t1 a", "t1 b"], "{}", a.text);
}

async fn bad_list_parameters_are_named(app: TestApp) {
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=abc", "limit"),
        ("status=bogus", "status"),
        ("since=yesterday", "since"),
        ("until=soon", "until"),
        ("cursor=xyz", "cursor"),
        ("q=%00", "q"),
        ("tenant=%01", "tenant"),
        ("limit=1&limit=2", "query"),
    ] {
        let a = app
            .bearer(SENDER, "GET", &format!("/v1/messages?{query}"), b"")
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            a.text
        );
        assert_eq!(a.field(), field, "{query}");
    }
    let a = app
        .bearer(SENDER, "GET", "/v1/stats?window=forever", b"")
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.field(), "window");
}

async fn health_request_ids_and_fallbacks(app: TestApp) {
    let a = app
        .call(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!a.headers["x-request-id"].to_str().unwrap().is_empty());
    let a = app
        .call(
            Request::get("/readyz")
                .header("x-request-id", "abc-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["x-request-id"], "abc-123");
    let a = app
        .call(Request::get("/nowhere").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.code(), "no_route");
    let a = app
        .call(Request::delete("/v1/messages").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    // Metrics are off in tests: a JSON 404.
    let a = app
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

async fn stats_and_channels(app: TestApp) {
    app.post(&message("one")).await;
    app.post(&message("two")).await;
    app.bearer(
        OTHER,
        "POST",
        "/v1/messages",
        message("x").to_string().as_bytes(),
    )
    .await;
    let a = app.bearer(SENDER, "GET", "/v1/stats?window=1h", b"").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.body["channels"]["logch"]["queued"], 2,
        "tenant-scoped: {}",
        a.text
    );
    assert_eq!(a.body["total"], 2);
    let a = app.bearer(ADMIN, "GET", "/v1/stats", b"").await;
    assert_eq!(a.body["total"], 3);
    let a = app.bearer(ADMIN, "GET", "/v1/channels", b"").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ch = &a.body["channels"][0];
    assert_eq!(ch["name"], "logch");
    assert_eq!(ch["kind"], "log");
    assert_eq!(ch["credential"], "log:logch");
    assert_eq!(ch["queue_depth"], 3);
    assert_eq!(ch["lanes"][0]["lane"], "log:logch|log");
    assert_eq!(ch["lanes"][0]["depth"]["queued"], 3);
    // Nothing was sent, and the log kind has no per-lane cap.
    assert_eq!(ch["lanes"][0]["calls_last_minute"], 0);
    assert_eq!(ch["lanes"][0]["cap_per_minute"], serde_json::Value::Null);
    assert_eq!(ch["token"], serde_json::Value::Null);
}

on_both_backends!(
    pages_are_newest_first_and_complete,
    bad_list_parameters_are_named,
    health_request_ids_and_fallbacks,
    stats_and_channels,
    an_admin_lists_one_tenant_and_a_caller_only_its_own,
);

#[test]
fn every_route_is_documented() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(notify_api::openapi::ApiDoc::openapi()).unwrap();
    for (method, path) in notify_api::routes::ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is missing from /openapi.json"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        notify_api::routes::ROUTES.len(),
        "a documented route is not in ROUTES"
    );
}

async fn every_listed_route_is_served(app: TestApp) {
    for (method, path) in notify_api::routes::ROUTES {
        let path = path.replace("{id}", "x");
        let a = app
            .bearer(ADMIN, &method.to_uppercase(), &path, b"{}")
            .await;
        assert_ne!(a.code(), "no_route", "{method} {path}");
        assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(
            a.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}"
        );
    }
    let a = app
        .call(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body["openapi"].as_str().unwrap().starts_with("3."));
}

on_both_backends!(every_listed_route_is_served);
