//! POST /v1/messages/batch: one result per message (accepted, replayed, invalid with the field,
//! conflict), all committed in one transaction, on both backends; and GET /docs.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{message, TestApp, OTHER, READER, SENDER};
use serde_json::{json, Value};

fn keyed(title: &str, key: &str) -> Value {
    let mut m = message(title);
    m["idempotency_key"] = key.into();
    m
}

async fn post_batch(app: &TestApp, messages: Vec<Value>) -> common::Answer {
    let body = json!({ "messages": messages }).to_string();
    app.bearer(SENDER, "POST", "/v1/messages/batch", body.as_bytes())
        .await
}

async fn each_message_gets_its_own_result(app: TestApp) {
    // A key used before the batch, with the same body and with another one.
    let first = app.post(&keyed("replayed", "k-replay")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let held = app.post(&keyed("held", "k-held")).await;
    assert_eq!(held.status, StatusCode::ACCEPTED);

    let a = post_batch(
        &app,
        vec![
            keyed("fresh", "k-1"),
            keyed("replayed", "k-replay"),
            json!({"title": "t", "targets": [{"channel": "nope"}]}),
            keyed("another body", "k-held"),
            message("no key"),
            json!("not an object"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let r = &a.body["results"];
    assert_eq!(r.as_array().unwrap().len(), 6);
    for (i, item) in r.as_array().unwrap().iter().enumerate() {
        assert_eq!(item["index"], i);
    }
    assert_eq!(r[0]["status"], "accepted");
    assert_eq!(r[0]["idempotency_key"], "k-1");
    let id = r[0]["id"].as_str().unwrap();
    assert!(id.starts_with("msg_"));
    assert_eq!(r[0]["message"]["id"], id);
    assert_eq!(r[0]["message"]["deliveries"][0]["status"], "queued");

    assert_eq!(r[1]["status"], "replayed");
    assert_eq!(r[1]["id"], first.body["id"]);
    assert_eq!(
        r[1]["message"], first.body,
        "the first answer, as a replay gets it"
    );

    assert_eq!(r[2]["status"], "invalid");
    assert_eq!(r[2]["error"]["code"], "unknown_channel");
    assert_eq!(r[2]["error"]["field"], "targets[0].channel");

    assert_eq!(r[3]["status"], "conflict");
    assert_eq!(r[3]["id"], held.body["id"]);
    assert_eq!(r[3]["error"]["code"], "idempotency_conflict");

    assert_eq!(r[4]["status"], "accepted");
    assert_eq!(r[5]["status"], "invalid");

    assert_eq!(
        (
            &a.body["accepted"],
            &a.body["replayed"],
            &a.body["invalid"],
            &a.body["conflict"],
            &a.body["error"]
        ),
        (&json!(2), &json!(1), &json!(2), &json!(1), &json!(0))
    );

    // Accepted means committed: both read back at once, and the replay made nothing new.
    for item in [&r[0], &r[4]] {
        let got = app
            .bearer(
                SENDER,
                "GET",
                &format!("/v1/messages/{}", item["id"].as_str().unwrap()),
                b"",
            )
            .await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    }
    let list = app
        .bearer(SENDER, "GET", "/v1/messages?limit=500", b"")
        .await;
    assert_eq!(list.body["messages"].as_array().unwrap().len(), 4);

    // The whole batch again: every keyed message is a replay now, nothing is inserted twice.
    let again = post_batch(
        &app,
        vec![keyed("fresh", "k-1"), keyed("replayed", "k-replay")],
    )
    .await;
    assert_eq!(again.body["replayed"], 2, "{}", again.text);
    assert_eq!(again.body["results"][0]["id"], r[0]["id"]);
}

async fn a_key_twice_in_one_batch_is_accepted_once(app: TestApp) {
    let a = post_batch(
        &app,
        vec![
            keyed("same", "k-dup"),
            keyed("same", "k-dup"),
            keyed("different", "k-dup"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let r = &a.body["results"];
    assert_eq!(r[0]["status"], "accepted");
    assert_eq!(r[1]["status"], "replayed");
    assert_eq!(r[1]["id"], r[0]["id"]);
    assert_eq!(r[2]["status"], "conflict");
    assert_eq!(r[2]["id"], r[0]["id"]);
}

async fn a_thousand_messages_commit_together(app: TestApp) {
    let messages: Vec<Value> = (0..1000)
        .map(|i| keyed(&format!("bulk {i}"), &format!("bulk-{i}")))
        .collect();
    let a = post_batch(&app, messages).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        &a.text[..a.text.len().min(500)]
    );
    assert_eq!(a.body["accepted"], 1000);
    let stats = app.bearer(SENDER, "GET", "/v1/stats?window=1h", b"").await;
    assert_eq!(stats.body["total"], 1000, "{}", stats.text);
    let depths = app.store.reads().lane_depths().await.unwrap();
    let queued: i64 = depths.iter().map(|(_, _, n)| n).sum();
    assert_eq!(queued, 1000);
}

async fn the_batch_itself_is_refused_when_malformed(app: TestApp) {
    let too_many: Vec<Value> = (0..1001).map(|i| message(&format!("m{i}"))).collect();
    let a = post_batch(&app, too_many).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.field(), "messages");
    let a = post_batch(&app, vec![]).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = app
        .bearer(SENDER, "POST", "/v1/messages/batch", b"{\"messages\": [")
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = app
        .bearer(SENDER, "POST", "/v1/messages/batch", br#"{"message": []}"#)
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    // Each message carries its own key; a header would be ambiguous.
    let mut req = common::bearer_req(
        SENDER.1,
        "POST",
        "/v1/messages/batch",
        json!({"messages": [message("x")]}).to_string().as_bytes(),
    );
    req.headers_mut()
        .insert("idempotency-key", "k".parse().unwrap());
    let a = app.call(req).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.field(), "idempotency_key");
    // The send scope is needed.
    let body = json!({"messages": [message("x")]}).to_string();
    let a = app
        .bearer(READER, "POST", "/v1/messages/batch", body.as_bytes())
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // A message over max_body_bytes (16 KiB in tests) is refused alone; the batch body may be
    // larger than one message's limit.
    let big = message(&"x".repeat(20_000));
    let a = post_batch(&app, vec![big, message("small")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["results"][0]["status"], "invalid");
    assert_eq!(a.body["results"][0]["error"]["code"], "payload_too_large");
    assert_eq!(a.body["results"][1]["status"], "accepted");
}

async fn batch_messages_belong_to_the_callers_tenant(app: TestApp) {
    let a = post_batch(&app, vec![message("mine")]).await;
    let id = a.body["results"][0]["id"].as_str().unwrap().to_string();
    let other = app
        .bearer(OTHER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

async fn docs_page_renders_the_openapi_document(app: TestApp) {
    let a = app
        .call(Request::get("/docs").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(a.text.contains("fetch(\"openapi.json\")"));
    // Self-contained: nothing is loaded from another host.
    assert!(!a.text.contains("http://") && !a.text.contains("https://"));
    assert!(!a.text.contains("<script src"));
}

on_both_backends!(
    each_message_gets_its_own_result,
    a_key_twice_in_one_batch_is_accepted_once,
    a_thousand_messages_commit_together,
    the_batch_itself_is_refused_when_malformed,
    batch_messages_belong_to_the_callers_tenant,
    docs_page_renders_the_openapi_document,
);
