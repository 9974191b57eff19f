//! One alert's life in the store (contract §6), on Postgres and on SQLite: storm control
//! classifies each alert message in the insert transaction (lead, suppressed, replay,
//! resolve), books the digest row-timer and keeps the alert readable.

mod common;

use notify_core::{AlertStatus, ManualClock, PartOp};
use notify_store::alerts::{NOTHING_SENT, RESOLVED_BEFORE_SENT};
use notify_store::*;
use notify_testkit::T0;

const WINDOW: i64 = 60_000;

fn lane(channel: &str) -> LaneInfo {
    LaneInfo::new(
        channel,
        &format!("log:{channel}"),
        "log",
        &format!("log:{channel}"),
    )
}

/// A message of alert `key` accepted at `at`, with one single-part delivery per channel.
fn alert_message(
    at: i64,
    key: &str,
    status: AlertStatus,
    fingerprint: Option<&str>,
    channels: &[&str],
) -> NewMessage {
    let id = notify_core::MessageId::new_at(at).0;
    NewMessage {
        id: id.clone(),
        tenant: "ops".into(),
        caller: "test".into(),
        body_hash: "h".into(),
        priority: 1,
        title: format!("{key} {}", status.as_str()),
        body: "{}".into(),
        response: format!("{{\"id\":\"{id}\",\"status\":\"accepted\",\"deliveries\":[{{}}]}}"),
        created_at: at,
        expires_at: at + 3_600_000,
        deliveries: channels
            .iter()
            .enumerate()
            .map(|(i, ch)| NewDelivery {
                id: notify_core::DeliveryId::new_at(at).0,
                seq: i as i64,
                channel: (*ch).into(),
                kind: notify_core::ChannelKind::Log,
                native_type: "log".into(),
                status: notify_core::DeliveryStatus::Queued,
                context: "{}".into(),
                parts: vec![NewPart {
                    id: notify_core::PartId::new_at(at).0,
                    seq: 0,
                    op: PartOp::Send,
                    lane: lane(ch),
                    body: "{}".into(),
                    recipients: "[]".into(),
                    depends_on: None,
                }],
                ..Default::default()
            })
            .collect(),
        alert: Some(NewAlert {
            key: key.into(),
            status,
            dedup_window_ms: WINDOW,
            fingerprint: fingerprint.map(str::to_string),
        }),
        ..Default::default()
    }
}

fn firing(at: i64) -> NewMessage {
    alert_message(at, "db-3/DiskFull", AlertStatus::Firing, None, &["a"])
}

async fn message(store: &Store, id: &str) -> MessageView {
    store
        .reads()
        .get_message(None, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no message {id}"))
}

async fn delivery_statuses(store: &Store, id: &str) -> Vec<(String, String, Option<String>)> {
    message(store, id)
        .await
        .deliveries
        .into_iter()
        .map(|d| (d.channel, d.status.to_string(), d.last_error))
        .collect()
}

/// Sends every queued part of `channel` (claim, then complete as done).
async fn send_all(store: &Store, channel: &str) {
    let lane = lane(channel).lane;
    let claimed = store.outbox().claim(&lane, "w", 100, 30_000).await.unwrap();
    assert!(!claimed.is_empty(), "nothing queued on {channel}");
    let done: Vec<Completion> = claimed
        .iter()
        .map(|p| Completion {
            part_id: p.id.clone(),
            lease_token: p.lease_token.clone(),
            result: PartResult::Done {
                upstream_id: Some(format!("up-{}", p.id)),
                failed_recipients: vec![],
            },
            attempt: None,
        })
        .collect();
    store.outbox().complete(&done).await.unwrap();
}

on_both_backends!(
    a_storm_is_one_lead_and_one_digest,
    a_repeated_fingerprint_is_a_replay,
    a_resolve_cancels_what_never_left,
    a_resolve_goes_only_where_the_alert_was_sent,
    alerts_are_listed_by_status_and_tenant,
    a_taken_key_in_the_batch_keeps_the_alert,
    a_resolve_does_not_count_the_step_it_stood_down,
);

async fn a_taken_key_in_the_batch_keeps_the_alert(store: Store, _clock: ManualClock) {
    let mut plain = firing(T0);
    plain.alert = None;
    plain.idempotency_key = Some("k1".into());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&plain))
        .await
        .unwrap();
    // A new alert's lead beside a retry of the keyed message (Postgres rolls its first insert
    // back to a savepoint on the taken key): the alert and its lock survive.
    let lead = firing(T0 + 1);
    let mut retry = plain.clone();
    retry.id = notify_core::MessageId::new_at(T0 + 1).0;
    let outcomes = store
        .outbox()
        .insert_messages(&[lead.clone(), retry])
        .await
        .unwrap();
    assert_eq!(outcomes[0], InsertOutcome::Inserted);
    assert!(matches!(outcomes[1], InsertOutcome::Replayed { .. }));
    let next = store
        .outbox()
        .insert_messages(&[firing(T0 + 2)])
        .await
        .unwrap();
    assert!(
        matches!(&next[0], InsertOutcome::Suppressed { response } if response.contains(&lead.id)),
        "{next:?}"
    );
}

async fn a_storm_is_one_lead_and_one_digest(store: Store, _clock: ManualClock) {
    let lead = firing(T0);
    assert_eq!(
        store
            .outbox()
            .insert_messages(std::slice::from_ref(&lead))
            .await
            .unwrap(),
        vec![InsertOutcome::Inserted]
    );
    // A burst in one batch, and one more in another: all inside the window.
    let burst: Vec<NewMessage> = (1..=50).map(|i| firing(T0 + i)).collect();
    let outcomes = store.outbox().insert_messages(&burst).await.unwrap();
    assert!(outcomes.iter().all(
        |o| matches!(o, InsertOutcome::Suppressed { response } if response.contains(&lead.id))
    ));
    let last = firing(T0 + WINDOW - 1);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&last))
        .await
        .unwrap();

    // One part queued: the lead's. The suppressed ones show no deliveries and their lead.
    assert_eq!(
        store.reads().part_counts().await.unwrap(),
        vec![("queued".to_string(), 1)]
    );
    let s = message(&store, &burst[7].id).await;
    assert_eq!(s.status, "suppressed");
    assert_eq!(s.suppressed_into.as_deref(), Some(lead.id.as_str()));
    assert!(s.deliveries.is_empty());
    assert_eq!(
        s.alert,
        Some(MessageAlert {
            key: "db-3/DiskFull".into(),
            status: "firing".into()
        })
    );

    let alert = store
        .alerts()
        .get_alert("ops", "db-3/DiskFull", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (alert.status.as_str(), alert.sent, alert.suppressed),
        ("firing", 1, 51)
    );
    assert_eq!(alert.messages.len(), 52);

    // The digest is due when the window ends, once.
    assert!(store
        .alerts()
        .due_digests(T0 + WINDOW - 1, 10)
        .await
        .unwrap()
        .is_empty());
    let due = store.alerts().due_digests(T0 + WINDOW, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].window_start, due[0].count, due[0].lead_id.as_str()),
        (T0, 51, lead.id.as_str())
    );
    let (a, b) = tokio::join!(
        store.alerts().clear_digest("ops", "db-3/DiskFull", T0),
        store.alerts().clear_digest("ops", "db-3/DiskFull", T0)
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one clear wins");
    assert!(store
        .alerts()
        .due_digests(T0 + WINDOW, 10)
        .await
        .unwrap()
        .is_empty());

    // After the window the next firing message is a new lead.
    let next = firing(T0 + WINDOW);
    assert_eq!(
        store
            .outbox()
            .insert_messages(std::slice::from_ref(&next))
            .await
            .unwrap(),
        vec![InsertOutcome::Inserted]
    );
    assert_eq!(message(&store, &next.id).await.deliveries.len(), 1);
}

async fn a_repeated_fingerprint_is_a_replay(store: Store, _clock: ManualClock) {
    let fp = |at, fp| alert_message(at, "am/group-1", AlertStatus::Firing, Some(fp), &["a"]);
    let first = fp(T0, "f1");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&first))
        .await
        .unwrap();
    // The source retries twice (in one batch), then sends a changed notification.
    let retries = [fp(T0 + 10, "f1"), fp(T0 + 20, "f1"), fp(T0 + 30, "f2")];
    let outcomes = store.outbox().insert_messages(&retries).await.unwrap();
    let replay = InsertOutcome::Replayed {
        response: first.response.clone(),
    };
    assert_eq!(outcomes[0], replay);
    assert_eq!(outcomes[1], replay);
    assert!(matches!(outcomes[2], InsertOutcome::Suppressed { .. }));
    for r in &retries[..2] {
        assert!(store
            .reads()
            .get_message(None, &r.id)
            .await
            .unwrap()
            .is_none());
    }
    // A repeat of the changed one inside the same batch answers that one's answer.
    let changed = fp(T0 + 40, "f3");
    let again = fp(T0 + 50, "f3");
    let outcomes = store
        .outbox()
        .insert_messages(&[changed.clone(), again])
        .await
        .unwrap();
    let InsertOutcome::Suppressed { response } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(
        outcomes[1],
        InsertOutcome::Replayed {
            response: response.clone()
        }
    );
    let alert = store
        .alerts()
        .get_alert("ops", "am/group-1", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (alert.sent, alert.suppressed),
        (1, 2),
        "replays are not counted"
    );
    // Outside the window the same fingerprint is news again.
    let late = fp(T0 + WINDOW + 40, "f3");
    assert_eq!(
        store.outbox().insert_messages(&[late]).await.unwrap(),
        vec![InsertOutcome::Inserted]
    );
}

async fn a_resolve_cancels_what_never_left(store: Store, _clock: ManualClock) {
    let key = "db-3/DiskFull";
    let lead = firing(T0);
    let suppressed = firing(T0 + 1);
    store
        .outbox()
        .insert_messages(&[lead.clone(), suppressed])
        .await
        .unwrap();
    assert_eq!(
        store
            .alerts()
            .due_digests(T0 + WINDOW, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let resolve = alert_message(T0 + 2, key, AlertStatus::Resolved, None, &["a"]);
    assert_eq!(
        store
            .outbox()
            .insert_messages(std::slice::from_ref(&resolve))
            .await
            .unwrap(),
        vec![InsertOutcome::Inserted]
    );
    // The lead never left: cancelled. Nothing of the alert reached channel a, so the
    // resolve has nothing to say there either.
    assert_eq!(
        delivery_statuses(&store, &lead.id).await,
        vec![(
            "a".into(),
            "cancelled".into(),
            Some(RESOLVED_BEFORE_SENT.into())
        )]
    );
    assert_eq!(message(&store, &lead.id).await.status, "recalled");
    assert_eq!(
        delivery_statuses(&store, &resolve.id).await,
        vec![("a".into(), "cancelled".into(), Some(NOTHING_SENT.into()))]
    );
    assert_eq!(
        store.reads().part_counts().await.unwrap(),
        vec![("cancelled".to_string(), 2)]
    );
    // The pending digest is cancelled; the alert is resolved.
    assert!(store
        .alerts()
        .due_digests(T0 + WINDOW, 10)
        .await
        .unwrap()
        .is_empty());
    let alert = store
        .alerts()
        .get_alert("ops", key, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.status, "resolved");
    // Firing again after a resolve opens a new round with a new lead.
    let again = firing(T0 + 3);
    assert_eq!(
        store.outbox().insert_messages(&[again]).await.unwrap(),
        vec![InsertOutcome::Inserted]
    );
}

async fn a_resolve_goes_only_where_the_alert_was_sent(store: Store, _clock: ManualClock) {
    let key = "web/5xx";
    let lead = alert_message(T0, key, AlertStatus::Firing, None, &["a", "b"]);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&lead))
        .await
        .unwrap();
    send_all(&store, "a").await;
    let resolve = alert_message(T0 + 5, key, AlertStatus::Resolved, None, &["a", "b"]);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&resolve))
        .await
        .unwrap();
    // The lead's queued delivery on b is cancelled; its sent one on a stays sent.
    assert_eq!(
        delivery_statuses(&store, &lead.id).await,
        vec![
            ("a".into(), "sent".into(), None),
            (
                "b".into(),
                "cancelled".into(),
                Some(RESOLVED_BEFORE_SENT.into())
            ),
        ]
    );
    assert_eq!(message(&store, &lead.id).await.status, "partially_sent");
    // The resolve goes out on a only.
    assert_eq!(
        delivery_statuses(&store, &resolve.id).await,
        vec![
            ("a".into(), "queued".into(), None),
            ("b".into(), "cancelled".into(), Some(NOTHING_SENT.into())),
        ]
    );
}

async fn a_resolve_does_not_count_the_step_it_stood_down(store: Store, _clock: ManualClock) {
    let key = "db-3/DiskFull";
    let mut lead = firing(T0);
    // An escalation step on channel a, due in five minutes.
    let mut step = lead.deliveries[0].clone();
    step.id = notify_core::DeliveryId::new_at(T0).0;
    step.seq = 1;
    step.parts[0].id = notify_core::PartId::new_at(T0).0;
    step.escalation_step = Some(0);
    step.due_at = Some(T0 + 300_000);
    step.expires_at = Some(T0 + 3_900_000);
    lead.deliveries.push(step);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&lead))
        .await
        .unwrap();
    send_all(&store, "a").await;
    assert_eq!(
        message(&store, &lead.id).await.status,
        "accepted",
        "the pending step keeps the lead open"
    );
    let resolve = alert_message(T0 + 5, key, AlertStatus::Resolved, None, &["a"]);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&resolve))
        .await
        .unwrap();
    let lead_view = message(&store, &lead.id).await;
    let step = lead_view.deliveries[1].escalation.clone().expect("a step");
    assert_eq!(
        (
            lead_view.deliveries[1].status.as_str(),
            step.reason.as_deref()
        ),
        ("cancelled", Some("resolved")),
        "{step:?}"
    );
    // The step never had to go out: the lead is sent, as its own target was (the one
    // roll-up rule, outbox::roll_up), not partially sent.
    assert_eq!(lead_view.status, "sent");
}

async fn alerts_are_listed_by_status_and_tenant(store: Store, _clock: ManualClock) {
    for (i, key) in ["k1", "k2", "k3"].into_iter().enumerate() {
        let m = alert_message(T0 + i as i64, key, AlertStatus::Firing, None, &["a"]);
        store.outbox().insert_messages(&[m]).await.unwrap();
    }
    let r = alert_message(T0 + 10, "k2", AlertStatus::Resolved, None, &["a"]);
    store.outbox().insert_messages(&[r]).await.unwrap();
    let list = |status: Option<&str>, tenant: Option<&str>, after, limit| AlertFilter {
        tenant: tenant.map(str::to_string),
        status: status.map(str::to_string),
        after,
        limit,
    };
    let keys = |page: &[(AlertView, AlertPosition)]| -> Vec<String> {
        page.iter().map(|(a, _)| a.key.clone()).collect()
    };
    let firing = store
        .alerts()
        .list_alerts(&list(Some("firing"), Some("ops"), None, 10))
        .await
        .unwrap();
    assert_eq!(keys(&firing), ["k3", "k1"], "newest first");
    let resolved = store
        .alerts()
        .list_alerts(&list(Some("resolved"), None, None, 10))
        .await
        .unwrap();
    assert_eq!(keys(&resolved), ["k2"]);
    assert!(store
        .alerts()
        .list_alerts(&list(None, Some("other"), None, 10))
        .await
        .unwrap()
        .is_empty());
    // Pages follow on from the cursor without overlap.
    let first = store
        .alerts()
        .list_alerts(&list(None, None, None, 2))
        .await
        .unwrap();
    assert_eq!(keys(&first), ["k3", "k2"]);
    let after = first.last().map(|(_, p)| p.clone());
    let second = store
        .alerts()
        .list_alerts(&list(None, None, after, 2))
        .await
        .unwrap();
    assert_eq!(keys(&second), ["k1"]);
    assert!(store
        .alerts()
        .get_alert("other", "k1", 10)
        .await
        .unwrap()
        .is_none());
}
