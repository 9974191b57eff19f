//! Recall, state updates and admin retry, with deliveries driven through the store as the
//! dispatcher would.

mod common;

use axum::http::StatusCode;
use common::*;
use notify_store::{Completion, PartResult};
use serde_json::json;

async fn send_all(app: &TestApp, result: impl Fn() -> PartResult) {
    let claimed = app
        .store
        .outbox()
        .claim("log:logch|log", "worker", 100, 60_000)
        .await
        .unwrap();
    let done: Vec<Completion> = claimed
        .iter()
        .map(|p| Completion {
            part_id: p.id.clone(),
            lease_token: p.lease_token.clone(),
            result: result(),
            attempt: None,
        })
        .collect();
    app.store.outbox().complete(&done).await.unwrap();
}

async fn recall_before_sending_cancels_and_is_idempotent(app: TestApp) {
    let m = app.post(&message("oops")).await;
    let id = m.body["id"].as_str().unwrap();
    let a = app
        .bearer(SENDER, "POST", &format!("/v1/messages/{id}/recall"), b"")
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.body["deliveries"][0]["status"], "cancelled");
    assert_eq!(a.body["deliveries"][0]["accepted"], true);
    let again = app
        .bearer(SENDER, "POST", &format!("/v1/messages/{id}/recall"), b"")
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["deliveries"][0]["status"], "cancelled");
    let got = app
        .bearer(SENDER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(got.body["status"], "recalled");
}

async fn recall_after_sending_queues_recall_calls(app: TestApp) {
    let m = app.post(&message("sent one")).await;
    let id = m.body["id"].as_str().unwrap();
    send_all(&app, || PartResult::Done {
        upstream_id: Some("up-1".into()),
        failed_recipients: vec![],
    })
    .await;
    let got = app
        .bearer(SENDER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(got.body["deliveries"][0]["status"], "sent", "{}", got.text);
    assert_eq!(got.body["deliveries"][0]["upstream_ids"], json!(["up-1"]));
    let a = app
        .bearer(SENDER, "POST", &format!("/v1/messages/{id}/recall"), b"")
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.body["deliveries"][0]["status"], "recalling");
    let again = app
        .bearer(SENDER, "POST", &format!("/v1/messages/{id}/recall"), b"")
        .await;
    assert_eq!(again.body["deliveries"][0]["status"], "recalling");
    let got = app
        .bearer(SENDER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    let parts = got.body["deliveries"][0]["parts"].as_array().unwrap();
    assert_eq!(
        parts.iter().filter(|p| p["op"] == "recall").count(),
        1,
        "one recall call: {}",
        got.text
    );
}

async fn state_updates_are_checked_and_explained(app: TestApp) {
    let m = app.post(&message("card")).await;
    let id = m.body["id"].as_str().unwrap();
    let path = format!("/v1/messages/{id}/state");
    let bad = [
        (
            json!({"state": {"zh": "处", "en": "done"}, "state_color": "gray"}),
            "state.zh",
        ),
        (
            json!({"state": {"zh": "已处理", "en": "d"}, "state_color": "gray"}),
            "state.en",
        ),
        (
            json!({"state": {"zh": "已处理", "en": "done"}, "state_color": "blue"}),
            "state_color",
        ),
        (
            json!({"state": {"zh": "已处理", "en": "done"}, "state_color": "pink"}),
            "state_color",
        ),
        (json!({"state": {"zh": "已处理", "en": "done"}}), ""),
    ];
    for (body, field) in bad {
        let a = app
            .bearer(SENDER, "POST", &path, body.to_string().as_bytes())
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            a.text
        );
        assert_eq!(a.field(), field, "{body}");
    }
    let a = app.bearer(SENDER, "POST", &path, b"{").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let good = json!({"state": {"zh": "已处理", "en": "done"}, "state_color": "green"});
    let a = app
        .bearer(SENDER, "POST", &path, good.to_string().as_bytes())
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.body["deliveries"][0]["accepted"], false);
    assert!(a.body["deliveries"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("queued"));
    // Sent on a channel without card states: said so.
    send_all(&app, || PartResult::Done {
        upstream_id: Some("up-1".into()),
        failed_recipients: vec![],
    })
    .await;
    let a = app
        .bearer(SENDER, "POST", &path, good.to_string().as_bytes())
        .await;
    assert_eq!(a.body["deliveries"][0]["accepted"], false);
    assert!(
        a.body["deliveries"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot take a state"),
        "{}",
        a.text
    );
}

async fn admin_retry_of_a_failed_delivery(app: TestApp) {
    let m = app.post(&message("fails")).await;
    let dlv = m.body["deliveries"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/deliveries/{dlv}/retry");
    let a = app.bearer(SENDER, "POST", &path, b"").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.bearer(ADMIN, "POST", &path, b"").await;
    assert_eq!(
        a.status,
        StatusCode::CONFLICT,
        "queued is not retryable: {}",
        a.text
    );
    assert_eq!(a.code(), "not_retryable");
    send_all(&app, || PartResult::Failed {
        error: "permanent".into(),
    })
    .await;
    let a = app.bearer(ADMIN, "POST", &path, b"").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.body["status"], "queued");
    let a = app
        .bearer(
            ADMIN,
            "POST",
            "/v1/deliveries/dlv_01JZZZZZZZZZZZZZZZZZZZZZZZ/retry",
            b"",
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

on_both_backends!(
    recall_before_sending_cancels_and_is_idempotent,
    recall_after_sending_queues_recall_calls,
    state_updates_are_checked_and_explained,
    admin_retry_of_a_failed_delivery,
);
