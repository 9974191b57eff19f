//! The reads behind the sweeper's alerting gauges (`notify_queue_oldest_due_seconds`,
//! `notify_credential_rejected`, `notify_replicas_live`), on Postgres and on SQLite.

mod common;

use notify_core::{ManualClock, PartOp};
use notify_store::*;
use notify_testkit::T0;

fn lane(credential: &str) -> LaneInfo {
    LaneInfo::new("logch", credential, "log", credential)
}

/// A one-part message on `credential`'s lane, accepted at `created_at`, due at `not_before`
/// when given (else at once).
fn message(n: i64, credential: &str, created_at: i64, not_before: Option<i64>) -> NewMessage {
    let id = notify_core::MessageId::new_at(created_at + n).0;
    NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "test".into(),
        idempotency_key: None,
        body_hash: "h".into(),
        priority: 2,
        title: format!("#{n}"),
        body: "{}".into(),
        response: format!("{{\"id\":\"{id}\"}}"),
        created_at: created_at + n,
        not_before,
        expires_at: T0 + 86_400_000,
        deliveries: vec![NewDelivery {
            id: notify_core::DeliveryId::new_at(created_at + n).0,
            seq: 0,
            channel: "logch".into(),
            kind: notify_core::ChannelKind::Log,
            native_type: "log".into(),
            status: notify_core::DeliveryStatus::Queued,
            truncated: false,
            context: "{}".into(),
            chat_key: None,
            escalation_step: None,
            due_at: None,
            expires_at: None,
            people: None,
            fallback: None,
            parts: vec![NewPart {
                id: notify_core::PartId::new_at(created_at + n).0,
                seq: 0,
                op: PartOp::Send,
                lane: lane(credential),
                body: "{}".into(),
                recipients: "[]".into(),
                depends_on: None,
            }],
        }],
        ..Default::default()
    }
}

fn done(p: &ClaimedPart) -> Completion {
    Completion {
        part_id: p.id.clone(),
        lease_token: p.lease_token.clone(),
        result: PartResult::Done {
            upstream_id: Some("u".into()),
            failed_recipients: vec![],
        },
        attempt: None,
    }
}

on_both_backends!(
    the_oldest_due_part_of_each_lane_is_found_and_waiting_parts_are_not_due,
    rejected_credentials_are_listed_until_cleared,
    live_replicas_are_those_with_a_live_heartbeat,
);

async fn the_oldest_due_part_of_each_lane_is_found_and_waiting_parts_are_not_due(
    store: Store,
    clock: ManualClock,
) {
    assert!(store
        .monitoring()
        .lane_oldest_due(T0)
        .await
        .unwrap()
        .is_empty());
    store
        .outbox()
        .insert_messages(&[
            // Lane a: due 10 min ago and 1 min ago; one scheduled for later.
            message(0, "a", T0 - 600_000, None),
            message(1, "a", T0 - 60_000, None),
            message(2, "a", T0 - 900_000, Some(T0 + 60_000)),
            // Lane b: accepted long ago, but scheduled: due only 5 s ago.
            message(3, "b", T0 - 3_600_000, Some(T0 - 5_000)),
            // Lane c: nothing due yet.
            message(4, "c", T0 - 10_000, Some(T0 + 1_000)),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.monitoring().lane_oldest_due(T0).await.unwrap(),
        vec![
            ("a|log".to_string(), T0 - 600_000),
            ("b|log".to_string(), T0 - 5_000),
        ]
    );
    // Lane a's oldest is sent (claimed, then done): the next one is the oldest; a claimed part
    // is no longer waiting either.
    let claimed = store.outbox().claim("a|log", "w", 1, 30_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let rows = store.monitoring().lane_oldest_due(T0).await.unwrap();
    assert_eq!(rows[0], ("a|log".to_string(), T0 - 60_000 + 1), "{rows:?}");
    store.outbox().complete(&[done(&claimed[0])]).await.unwrap();
    assert_eq!(
        store.monitoring().lane_oldest_due(T0).await.unwrap()[0],
        ("a|log".to_string(), T0 - 60_000 + 1)
    );
    // Time passes: the scheduled parts become due and count from their due time.
    clock.advance_ms(120_000);
    let now = T0 + 120_000;
    assert_eq!(
        store.monitoring().lane_oldest_due(now).await.unwrap(),
        vec![
            ("a|log".to_string(), T0 - 60_000 + 1),
            ("b|log".to_string(), T0 - 5_000),
            ("c|log".to_string(), T0 + 1_000),
        ]
    );
}

async fn rejected_credentials_are_listed_until_cleared(store: Store, _clock: ManualClock) {
    assert!(store
        .monitoring()
        .rejected_credentials()
        .await
        .unwrap()
        .is_empty());
    store
        .tokens()
        .reject_credential("welink:app", "10007", "wrong secret")
        .await
        .unwrap();
    store
        .tokens()
        .reject_credential("wecom:corp", "40001", "invalid secret")
        .await
        .unwrap();
    assert_eq!(
        store.monitoring().rejected_credentials().await.unwrap(),
        vec![
            ("wecom:corp".to_string(), "40001".to_string()),
            ("welink:app".to_string(), "10007".to_string()),
        ]
    );
    store.tokens().clear_rejection("welink:app").await.unwrap();
    assert_eq!(
        store.monitoring().rejected_credentials().await.unwrap(),
        vec![("wecom:corp".to_string(), "40001".to_string())]
    );
}

async fn live_replicas_are_those_with_a_live_heartbeat(store: Store, clock: ManualClock) {
    assert_eq!(store.monitoring().live_replicas(T0).await.unwrap(), 0);
    store.lanes().heartbeat("a", 10_000).await.unwrap();
    store.lanes().heartbeat("b", 30_000).await.unwrap();
    assert_eq!(store.monitoring().live_replicas(T0).await.unwrap(), 2);
    clock.advance_ms(20_000);
    assert_eq!(
        store.monitoring().live_replicas(T0 + 20_000).await.unwrap(),
        1
    );
    store.lanes().forget_replica("b").await.unwrap();
    assert_eq!(
        store.monitoring().live_replicas(T0 + 20_000).await.unwrap(),
        0
    );
}
