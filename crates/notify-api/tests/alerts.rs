//! One alert's life through the API (contract §6), on both backends: storm control at
//! ingress (single and batch), the digest loop (exactly once with two replicas' loops),
//! `GET /v1/alerts` and `GET /v1/alerts/{key}` with their tenant rules.

mod common;

use axum::http::StatusCode;
use common::*;
use notify_api::background::digest::digest_once;
use notify_api::AppState;
use notify_channels::{build_channel, ChannelConfig};
use notify_core::ChannelKind;
use serde_json::{json, Value};

const KEY: &str = "db-3/DiskFull";
const KEY_IN_PATH: &str = "db-3%2FDiskFull";

fn alert(title: &str, status: &str) -> Value {
    json!({
        "title": {"zh": format!("磁盘将满 {title}"), "en": format!("Disk almost full {title}")},
        "content": "db-3 /var at 95%",
        "targets": [{"channel": "logch", "users": ["alice"]}],
        "alert": {"key": KEY, "status": status, "dedup_window": "1m"}
    })
}

/// A second replica's API state over the same store: its own committer and loops.
fn replica(app: &TestApp) -> AppState {
    let channel = build_channel("logch", &ChannelConfig::of_kind(ChannelKind::Log)).unwrap();
    AppState::new(app.store.clone(), vec![channel], config(), None)
}

async fn queued_parts(app: &TestApp) -> i64 {
    app.store
        .reads()
        .part_counts()
        .await
        .unwrap()
        .into_iter()
        .filter(|(s, _)| s == "queued")
        .map(|(_, n)| n)
        .sum()
}

on_both_backends!(
    a_storm_is_one_send_and_one_digest,
    alerts_are_read_under_the_tenant_rules,
    a_resolve_through_the_api_cancels_the_unsent_lead,
    alert_keys_of_1_to_200_characters_are_taken_and_others_refused,
);

async fn a_storm_is_one_send_and_one_digest(app: TestApp) {
    let lead = app.post(&alert("#0", "firing")).await;
    assert_eq!(lead.status, StatusCode::ACCEPTED, "{}", lead.text);
    let lead_id = lead.body["id"].as_str().unwrap().to_string();
    // 10,000 more firing messages of the key in a burst, through the batch route.
    for chunk in 0..10 {
        let messages: Vec<Value> = (0..1_000)
            .map(|i| alert(&format!("#{}", chunk * 1_000 + i + 1), "firing"))
            .collect();
        let a = app
            .bearer(
                SENDER,
                "POST",
                "/v1/messages/batch",
                json!({ "messages": messages }).to_string().as_bytes(),
            )
            .await;
        assert!(a.status.is_success(), "{}", a.text);
        let items = a.body["results"].as_array().unwrap();
        assert!(items.iter().all(|i| i["message"]["status"] == "suppressed"
            && i["message"]["suppressed_into"] == lead_id.as_str()));
    }
    // And one alone: 202, suppressed, nothing planned.
    let one = app.post(&alert("#10001", "firing")).await;
    assert_eq!(one.status, StatusCode::ACCEPTED);
    assert_eq!(one.body["status"], "suppressed");
    assert_eq!(one.body["deliveries"], json!([]));
    let shown = app
        .bearer(
            SENDER,
            "GET",
            &format!("/v1/messages/{}", one.body["id"].as_str().unwrap()),
            b"",
        )
        .await;
    assert_eq!(shown.body["status"], "suppressed");
    assert_eq!(shown.body["suppressed_into"], lead_id.as_str());
    assert_eq!(shown.body["alert"], json!({"key": KEY, "status": "firing"}));

    assert_eq!(queued_parts(&app).await, 1, "one send: the lead's");
    let a = app
        .bearer(SENDER, "GET", &format!("/v1/alerts/{KEY_IN_PATH}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (a.body["sent"].as_i64(), a.body["suppressed"].as_i64()),
        (Some(1), Some(10_001))
    );

    // Nothing is due before the window ends.
    let (one, two) = (replica(&app), replica(&app));
    assert_eq!(digest_once(&one).await.unwrap(), 0);
    app.clock.advance_ms(60_000);
    // Two replicas' loops at once: one digest.
    let (x, y) = tokio::join!(digest_once(&one), digest_once(&two));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(digest_once(&one).await.unwrap(), 0);
    assert_eq!(queued_parts(&app).await, 2, "the lead and one digest");
    // A replica killed between storing the digest and clearing its timer: the next round's
    // insert is a replay of the same idempotency key, and clears the timer.
    app.store
        .execute_raw(&format!(
            "UPDATE alerts SET digest_due_at = {due}, digest_window_start = {T0}, \
             digest_lead_id = '{lead_id}', digest_count = 10001",
            due = T0 + 60_000
        ))
        .await
        .unwrap();
    assert_eq!(
        app.store
            .alerts()
            .due_digests(T0 + 60_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(digest_once(&two).await.unwrap(), 0);
    assert!(app
        .store
        .alerts()
        .due_digests(T0 + 60_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(queued_parts(&app).await, 2, "still one digest");

    let a = app
        .bearer(SENDER, "GET", &format!("/v1/alerts/{KEY_IN_PATH}"), b"")
        .await;
    let digests: Vec<&Value> = a.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["alert_status"] == "digest")
        .collect();
    assert_eq!(digests.len(), 1);
    let digest = app
        .bearer(
            SENDER,
            "GET",
            &format!("/v1/messages/{}", digests[0]["id"].as_str().unwrap()),
            b"",
        )
        .await;
    assert_eq!(
        digest.body["title"],
        "[告警中] 磁盘将满 #0，1 分钟 内另有 10001 条"
    );
    assert_eq!(digest.body["deliveries"][0]["channel"], "logch");
}

async fn alerts_are_read_under_the_tenant_rules(app: TestApp) {
    assert_eq!(
        app.post(&alert("#0", "firing")).await.status,
        StatusCode::ACCEPTED
    );
    // Newest first is id order, and ids order by millisecond.
    app.clock.advance_ms(1);
    app.post(&alert("#1", "firing")).await;
    let list = app
        .bearer(READER, "GET", "/v1/alerts?status=firing", b"")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["alerts"][0]["key"], KEY);
    assert_eq!(list.body["alerts"][0]["status"], "firing");
    assert_eq!(list.body["alerts"][0]["pending_escalation_steps"], 0);
    // Another tenant sees nothing and cannot name t1; an admin names it.
    let other = app.bearer(OTHER, "GET", "/v1/alerts", b"").await;
    assert_eq!(other.body["alerts"], json!([]));
    assert_eq!(
        app.bearer(OTHER, "GET", "/v1/alerts?tenant=t1", b"")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.bearer(OTHER, "GET", &format!("/v1/alerts/{KEY_IN_PATH}"), b"")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let admin = app
        .bearer(
            ADMIN,
            "GET",
            &format!("/v1/alerts/{KEY_IN_PATH}?tenant=t1"),
            b"",
        )
        .await;
    assert_eq!(admin.status, StatusCode::OK);
    let messages = admin.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["status"], "suppressed");
    assert_eq!(messages[0]["suppressed_into"], messages[1]["id"]);
    // Bad parameters name themselves.
    let bad = app
        .bearer(READER, "GET", "/v1/alerts?status=open", b"")
        .await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "status")
    );
    let bad = app
        .bearer(READER, "GET", "/v1/alerts?cursor=xyz", b"")
        .await;
    assert_eq!(bad.field(), "cursor");
    // Paging.
    for k in ["a", "b"] {
        app.clock.advance_ms(1);
        let mut m = alert(k, "firing");
        m["alert"]["key"] = json!(k);
        app.post(&m).await;
    }
    let first = app.bearer(READER, "GET", "/v1/alerts?limit=2", b"").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = app
        .bearer(
            READER,
            "GET",
            &format!("/v1/alerts?limit=2&cursor={cursor}"),
            b"",
        )
        .await;
    assert_eq!(second.body["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["next_cursor"], Value::Null);
}

async fn a_resolve_through_the_api_cancels_the_unsent_lead(app: TestApp) {
    let lead = app.post(&alert("#0", "firing")).await;
    app.post(&alert("#1", "firing")).await;
    let resolve = app.post(&alert("#2", "resolved")).await;
    assert_eq!(resolve.status, StatusCode::ACCEPTED);
    let get = |id: &Value| format!("/v1/messages/{}", id.as_str().unwrap());
    let lead = app.bearer(SENDER, "GET", &get(&lead.body["id"]), b"").await;
    assert_eq!(lead.body["deliveries"][0]["status"], "cancelled");
    let resolve = app
        .bearer(SENDER, "GET", &get(&resolve.body["id"]), b"")
        .await;
    assert_eq!(resolve.body["deliveries"][0]["status"], "cancelled");
    assert_eq!(
        resolve.body["deliveries"][0]["last_error"],
        "nothing was sent for this alert"
    );
    // The pending digest went with the resolve.
    app.clock.advance_ms(60_000);
    assert_eq!(digest_once(&replica(&app)).await.unwrap(), 0);
    let a = app
        .bearer(SENDER, "GET", "/v1/alerts?status=resolved", b"")
        .await;
    assert_eq!(a.body["alerts"][0]["key"], KEY);
}

fn keyed(key: &str) -> Value {
    let mut m = alert("#0", "firing");
    m["alert"]["key"] = json!(key);
    m
}

async fn alert_keys_of_1_to_200_characters_are_taken_and_others_refused(app: TestApp) {
    // Characters, not bytes: 200 Chinese characters are 600 bytes and still a key.
    for ok in ["k".to_string(), "键".repeat(200)] {
        let a = app.post(&keyed(&ok)).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    }
    for bad in [String::new(), "k".repeat(201)] {
        let a = app.post(&keyed(&bad)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(
            (a.field(), a.code()),
            ("alert.key", "bad_length"),
            "{}",
            a.text
        );
        let b = app
            .bearer(
                SENDER,
                "POST",
                "/v1/messages/batch",
                json!({"messages": [keyed(&bad)]}).to_string().as_bytes(),
            )
            .await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.text);
        assert_eq!(b.body["results"][0]["status"], "invalid", "{}", b.text);
        assert_eq!(b.body["results"][0]["error"]["field"], "alert.key");
    }
}

notify_testkit::on_both_backends!(crate::common::with_every_channel, 2; a_resolve_turns_the_sent_welink_card_green);

async fn a_resolve_turns_the_sent_welink_card_green(app: TestApp) {
    let card = |status: &str| {
        json!({
            "title": "Disk almost full", "content": "db-3 /var at 95%",
            "state": {"zh": "告警中", "en": "firing"}, "state_color": "orange",
            "targets": [{"channel": "welink", "users": ["zhangsan@welink"]},
                        {"channel": "wecom", "users": ["zhangsan"]}],
            "alert": {"key": KEY, "status": status}
        })
    };
    let lead = app.post(&card("firing")).await;
    assert_eq!(lead.status, StatusCode::ACCEPTED, "{}", lead.text);
    send_everything(&app, "welink").await;
    send_everything(&app, "wecom").await;

    let resolve = app.post(&card("resolved")).await;
    assert_eq!(resolve.status, StatusCode::ACCEPTED, "{}", resolve.text);
    // No new WeLink card: the resolve's WeLink delivery is the state update; WeCom gets the
    // short resolved message.
    assert_eq!(resolve.body["deliveries"][0]["type"], "state_update");
    assert_eq!(resolve.body["deliveries"][0]["parts"], 0);
    assert_eq!(resolve.body["deliveries"][1]["status"], "queued");
    let lead = app
        .bearer(
            SENDER,
            "GET",
            &format!("/v1/messages/{}", lead.body["id"].as_str().unwrap()),
            b"",
        )
        .await;
    let welink = &lead.body["deliveries"][0];
    assert_eq!(welink["status"], "sent");
    let state_parts: Vec<&Value> = welink["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["op"] == "state")
        .collect();
    assert_eq!(state_parts.len(), 1, "{welink}");
    assert_eq!(state_parts[0]["status"], "queued");
    assert_eq!(
        lead.body["deliveries"][1]["parts"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "WeCom cards take no state update"
    );
}
