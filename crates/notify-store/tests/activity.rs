//! The admin console's reads (`notify_store::activity`), on Postgres and on SQLite.

mod common;

use notify_core::{ManualClock, PartOp};
use notify_store::activity::{LaneMinute, LaneOldest};
use notify_store::*;
use notify_testkit::T0;

fn lane(name: &str) -> LaneInfo {
    LaneInfo::new(name, &format!("log:{name}"), "log", &format!("log:{name}"))
}

fn message(n: usize, lane_name: &str, parts: usize, created_at: i64) -> NewMessage {
    let id = notify_core::MessageId::new_at(created_at).0;
    NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "test".into(),
        idempotency_key: None,
        body_hash: format!("h{n}"),
        priority: 2,
        title: format!("m{n}"),
        body: "{}".into(),
        response: format!("{{\"id\":\"{id}\"}}"),
        created_at,
        not_before: None,
        expires_at: T0 + 3_600_000,
        deliveries: vec![NewDelivery {
            id: notify_core::DeliveryId::new_at(created_at).0,
            seq: 0,
            channel: lane_name.into(),
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
            parts: (0..parts)
                .map(|i| NewPart {
                    id: notify_core::PartId::new_at(created_at).0,
                    seq: i as i64,
                    op: PartOp::Send,
                    lane: lane(lane_name),
                    body: "{}".into(),
                    recipients: "[]".into(),
                    depends_on: None,
                })
                .collect(),
        }],
        ..Default::default()
    }
}

fn completion(p: &ClaimedPart, at: i64, outcome: &str) -> Completion {
    Completion {
        part_id: p.id.clone(),
        lease_token: p.lease_token.clone(),
        result: PartResult::Done {
            upstream_id: None,
            failed_recipients: vec![],
        },
        attempt: Some(AttemptRecord {
            at,
            endpoint: "log".into(),
            http_status: Some(200),
            upstream_code: Some(
                if outcome == "rate_limited" {
                    "48503"
                } else {
                    "0"
                }
                .into(),
            ),
            upstream_message: None,
            duration_ms: 2,
            outcome: outcome.into(),
            possible_duplicate: false,
        }),
    }
}

on_both_backends!(
    calls_are_counted_per_lane_and_minute_with_peak_and_rate_limits,
    the_oldest_queued_part_of_each_lane_is_found,
    suppressed_messages_are_counted_from_a_time_on,
);

async fn calls_are_counted_per_lane_and_minute_with_peak_and_rate_limits(
    store: Store,
    _clock: ManualClock,
) {
    store
        .outbox()
        .insert_messages(&[
            message(0, "a", 6, T0 - 10_000),
            message(1, "b", 1, T0 - 9_000),
        ])
        .await
        .unwrap();
    let a = store
        .outbox()
        .claim(&lane("a").lane, "w", 10, 60_000)
        .await
        .unwrap();
    let b = store
        .outbox()
        .claim(&lane("b").lane, "w", 10, 60_000)
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (6, 1));
    let m2 = T0 - 120_000; // a minute boundary two minutes ago
    store
        .outbox()
        .complete(&[
            // Two hours ago: outside an hour's window.
            completion(&a[0], T0 - 7_200_000, "sent"),
            // Minute m2: three calls in one second (one a 48503), one in another second.
            completion(&a[1], m2 + 5_000, "sent"),
            completion(&a[2], m2 + 5_400, "rate_limited"),
            completion(&a[3], m2 + 5_999, "sent"),
            completion(&a[4], m2 + 59_999, "sent"),
            // The next minute.
            completion(&a[5], m2 + 60_000, "sent"),
            completion(&b[0], T0 - 1, "sent"),
        ])
        .await
        .unwrap();
    // A window start inside a minute counts that whole minute.
    let rows = store
        .monitoring()
        .lane_minutes(T0 - 3_600_000 + 1)
        .await
        .unwrap();
    let row = |l: &str, minute, calls, peak, rl| LaneMinute {
        lane: lane(l).lane,
        minute,
        calls,
        peak_per_second: peak,
        rate_limited: rl,
    };
    assert_eq!(
        rows,
        vec![
            row("a", m2, 4, 3, 1),
            row("a", m2 + 60_000, 1, 1, 0),
            row("b", T0 - 60_000, 1, 1, 0),
        ]
    );
    // From the last minute on: a's second minute and b's.
    assert_eq!(
        store
            .monitoring()
            .lane_minutes(T0 - 60_000)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(store
        .monitoring()
        .lane_minutes(T0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.monitoring().lane_minutes(0).await.unwrap().len(), 4);
}

async fn the_oldest_queued_part_of_each_lane_is_found(store: Store, _clock: ManualClock) {
    assert!(store.monitoring().oldest_queued().await.unwrap().is_empty());
    store
        .outbox()
        .insert_messages(&[
            message(0, "a", 1, T0 - 50_000),
            message(1, "a", 1, T0 - 40_000),
            message(2, "b", 1, T0 - 30_000),
        ])
        .await
        .unwrap();
    let oldest = |l: &str, at| LaneOldest {
        lane: lane(l).lane,
        oldest_created_at: at,
    };
    assert_eq!(
        store.monitoring().oldest_queued().await.unwrap(),
        vec![oldest("a", T0 - 50_000), oldest("b", T0 - 30_000)]
    );
    // Lane a's oldest leaves the queue (claimed): the next one is the oldest; b's is sent.
    let a = store
        .outbox()
        .claim(&lane("a").lane, "w", 1, 60_000)
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    let b = store
        .outbox()
        .claim(&lane("b").lane, "w", 1, 60_000)
        .await
        .unwrap();
    store
        .outbox()
        .complete(&[completion(&b[0], T0, "sent")])
        .await
        .unwrap();
    assert_eq!(
        store.monitoring().oldest_queued().await.unwrap(),
        vec![oldest("a", T0 - 40_000)]
    );
}

async fn suppressed_messages_are_counted_from_a_time_on(store: Store, _clock: ManualClock) {
    let alert = |n: usize, at: i64| NewMessage {
        alert: Some(NewAlert {
            key: "disk".into(),
            status: notify_core::AlertStatus::Firing,
            dedup_window_ms: 300_000,
            fingerprint: None,
        }),
        ..message(n, "a", 1, at)
    };
    assert_eq!(store.monitoring().suppressed_since(0).await.unwrap(), 0);
    // Two hours ago: a lead and one repeat; ten minutes ago: a new lead and two repeats.
    let two_hours = T0 - 7_200_000;
    let ten_minutes = T0 - 600_000;
    for (n, at) in [
        (0, two_hours),
        (1, two_hours + 1_000),
        (2, ten_minutes),
        (3, ten_minutes + 1_000),
        (4, ten_minutes + 2_000),
    ] {
        store
            .outbox()
            .insert_messages(&[alert(n, at)])
            .await
            .unwrap();
    }
    // A plain message is never counted.
    store
        .outbox()
        .insert_messages(&[message(5, "a", 1, T0 - 1_000)])
        .await
        .unwrap();
    assert_eq!(
        store
            .monitoring()
            .suppressed_since(T0 - 3_600_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.monitoring().suppressed_since(0).await.unwrap(), 3);
    assert_eq!(
        store
            .monitoring()
            .suppressed_since(ten_minutes + 1_500)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.monitoring().suppressed_since(T0).await.unwrap(), 0);
}
