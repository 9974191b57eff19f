//! Escalation steps as outbox rows and acknowledgement, on Postgres and on SQLite: a step's
//! calls are not claimable before they are due, acknowledging cancels the steps that have not
//! fired (and only those), twice is a no-op, and the message view shows it all.

mod common;

use notify_core::{Clock, ManualClock, PartOp};
use notify_store::escalation::{StateCalls, StepsOf};
use notify_store::*;
use notify_testkit::T0;

const AFTER: i64 = 300_000;
const TTL: i64 = 3_600_000;
const LANE: &str = "log:logch|log";

fn lane() -> LaneInfo {
    LaneInfo::new("logch", "log:logch", "log", "log:logch")
}

fn delivery(seq: i64, now: i64, step: Option<i64>) -> NewDelivery {
    NewDelivery {
        id: notify_core::DeliveryId::new_at(now).0,
        seq,
        channel: "logch".into(),
        kind: notify_core::ChannelKind::Log,
        native_type: "text".into(),
        status: notify_core::DeliveryStatus::Queued,
        context: "{}".into(),
        parts: vec![NewPart {
            id: notify_core::PartId::new_at(now).0,
            seq: 0,
            op: PartOp::Send,
            lane: lane(),
            body: "{}".into(),
            recipients: "[]".into(),
            depends_on: None,
        }],
        escalation_step: step,
        due_at: step.map(|_| now + AFTER),
        expires_at: step.map(|_| now + AFTER + TTL),
        ..Default::default()
    }
}

/// A message accepted now with one own target and one escalation step due `AFTER` later.
fn escalating(now: i64) -> NewMessage {
    NewMessage {
        id: notify_core::MessageId::new_at(now).0,
        tenant: "default".into(),
        caller: "test".into(),
        body_hash: "h".into(),
        priority: 1,
        title: "disk full".into(),
        body: "{}".into(),
        response: "{}".into(),
        created_at: now,
        expires_at: now + TTL,
        deliveries: vec![delivery(0, now, None), delivery(1, now, Some(0))],
        ..Default::default()
    }
}

async fn send_due(store: &Store) -> Vec<String> {
    let claimed = store.outbox().claim(LANE, "w", 100, 60_000).await.unwrap();
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
    claimed.into_iter().map(|p| p.delivery_id).collect()
}

async fn view(store: &Store, id: &str) -> MessageView {
    store
        .reads()
        .get_message(None, id)
        .await
        .unwrap()
        .expect("message")
}

on_both_backends!(
    a_step_is_claimable_only_when_due_and_fires_once,
    acknowledging_cancels_pending_steps_and_twice_is_a_no_op,
    a_fired_step_is_not_cancelled,
    acknowledging_appends_state_calls,
    resolving_cancels_pending_steps_by_message,
    a_step_expires_a_ttl_after_it_is_due,
);

async fn a_step_is_claimable_only_when_due_and_fires_once(store: Store, clock: ManualClock) {
    let m = escalating(clock.now_ms());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let first = send_due(&store).await;
    assert_eq!(
        first,
        vec![m.deliveries[0].id.clone()],
        "only the own target"
    );
    let v = view(&store, &m.id).await;
    assert_eq!(
        v.status, "accepted",
        "a pending step keeps the message open"
    );
    let step = v.deliveries[1].escalation.clone().expect("a step");
    assert_eq!((step.step, step.state.as_str()), (0, "pending"), "{step:?}");
    clock.advance_ms(AFTER - 1);
    assert!(send_due(&store).await.is_empty(), "not before `after`");
    clock.advance_ms(1);
    assert_eq!(send_due(&store).await, vec![m.deliveries[1].id.clone()]);
    assert!(send_due(&store).await.is_empty(), "once");
    let v = view(&store, &m.id).await;
    assert_eq!(v.status, "sent");
    assert_eq!(v.deliveries[1].status, "sent");
    assert_eq!(v.deliveries[1].escalation.as_ref().unwrap().state, "fired");
}

async fn acknowledging_cancels_pending_steps_and_twice_is_a_no_op(
    store: Store,
    clock: ManualClock,
) {
    let m = escalating(clock.now_ms());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    send_due(&store).await;
    clock.advance_ms(1_000);
    let ack = store
        .escalation()
        .acknowledge(&m.id, "zhangsan", &[], TTL)
        .await
        .unwrap()
        .expect("exists");
    assert!(ack.first);
    assert_eq!(ack.by, "zhangsan");
    assert_eq!(ack.at, T0 + 1_000);
    assert_eq!(ack.cancelled, vec![m.deliveries[1].id.clone()]);
    clock.advance_ms(1_000);
    let again = store
        .escalation()
        .acknowledge(&m.id, "lisi", &[], TTL)
        .await
        .unwrap()
        .expect("exists");
    assert!(!again.first);
    assert_eq!((again.by.as_str(), again.at), ("zhangsan", T0 + 1_000));
    assert!(again.cancelled.is_empty());
    clock.advance_ms(AFTER);
    assert!(
        send_due(&store).await.is_empty(),
        "a cancelled step never fires"
    );
    let v = view(&store, &m.id).await;
    assert_eq!(v.status, "sent", "the cancelled step does not count");
    assert_eq!(v.acknowledged_by.as_deref(), Some("zhangsan"));
    assert!(v.acknowledged_at.is_some());
    assert_eq!(v.deliveries[1].status, "cancelled");
    let step = v.deliveries[1].escalation.clone().unwrap();
    assert_eq!(step.state, "cancelled");
    assert_eq!(step.reason.as_deref(), Some("acknowledged"));
    assert!(store
        .escalation()
        .acknowledge("msg_nonexistent", "x", &[], TTL)
        .await
        .unwrap()
        .is_none());
}

async fn a_fired_step_is_not_cancelled(store: Store, clock: ManualClock) {
    let m = escalating(clock.now_ms());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    clock.advance_ms(AFTER);
    // Both are claimed (the step is in flight) when the acknowledgement comes.
    let claimed = store.outbox().claim(LANE, "w", 100, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let ack = store
        .escalation()
        .acknowledge(&m.id, "zhangsan", &[], TTL)
        .await
        .unwrap()
        .unwrap();
    assert!(ack.cancelled.is_empty(), "a step in flight has fired");
    let v = view(&store, &m.id).await;
    assert_eq!(v.deliveries[1].escalation.as_ref().unwrap().state, "fired");
}

async fn acknowledging_appends_state_calls(store: Store, clock: ManualClock) {
    let m = escalating(clock.now_ms());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    send_due(&store).await;
    let state = NewPart {
        id: notify_core::PartId::new_at(clock.now_ms()).0,
        seq: 0,
        op: PartOp::State,
        lane: lane(),
        body: r#"{"state":"processed"}"#.into(),
        recipients: "[]".into(),
        depends_on: None,
    };
    let calls = [StateCalls {
        delivery_id: m.deliveries[0].id.clone(),
        parts: vec![state],
    }];
    store
        .escalation()
        .acknowledge(&m.id, "zhangsan", &calls, TTL)
        .await
        .unwrap();
    // A second acknowledgement adds nothing.
    store
        .escalation()
        .acknowledge(&m.id, "lisi", &calls, TTL)
        .await
        .unwrap();
    let v = view(&store, &m.id).await;
    let states: Vec<_> = v.deliveries[0]
        .parts
        .iter()
        .filter(|p| p.op == "state")
        .collect();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].status, "queued");
    assert_eq!(v.deliveries[0].status, "sent");
    let claimed = store.outbox().claim(LANE, "w", 100, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1, "the state call is due at once");
    assert_eq!(claimed[0].op, PartOp::State);
}

async fn resolving_cancels_pending_steps_by_message(store: Store, clock: ManualClock) {
    let m = escalating(clock.now_ms());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let cancelled = store
        .escalation()
        .cancel_pending_steps(
            StepsOf::Messages(std::slice::from_ref(&m.id)),
            notify_store::escalation::reason::RESOLVED,
        )
        .await
        .unwrap();
    assert_eq!(cancelled, vec![m.deliveries[1].id.clone()]);
    let v = view(&store, &m.id).await;
    let step = v.deliveries[1].escalation.clone().unwrap();
    assert_eq!(
        (step.state.as_str(), step.reason.as_deref()),
        ("cancelled", Some("resolved"))
    );
    assert_eq!(v.acknowledged_by, None, "resolving is not acknowledging");
    clock.advance_ms(AFTER);
    let fired = send_due(&store).await;
    assert_eq!(
        fired,
        vec![m.deliveries[0].id.clone()],
        "only the own target"
    );
}

async fn a_step_expires_a_ttl_after_it_is_due(store: Store, clock: ManualClock) {
    let m = escalating(clock.now_ms());
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    send_due(&store).await;
    // Past the message's own deadline, but within the step's (due + TTL).
    clock.advance_ms(TTL + 1);
    assert_eq!(store.outbox().sweep().await.unwrap().expired, 0);
    clock.advance_ms(AFTER);
    assert_eq!(store.outbox().sweep().await.unwrap().expired, 1);
    let v = view(&store, &m.id).await;
    assert_eq!(v.deliveries[1].status, "expired");
}
