//! The people-and-groups directory and fallbacks (contract §7) in the store, on Postgres and on
//! SQLite: directory writes and their refusals, the pending-fallback row written with the
//! final status (failure, expiry, sent with refused directory people) and never for answers
//! that are not final (a rate limit, a retry of an unknown outcome), and the fallback delivery
//! added exactly once.

mod common;

use std::collections::BTreeMap;

use notify_core::{FailedRecipient, ManualClock, PartOp, TargetInput};
use notify_store::directory::{Directory, DirectoryRefusal, Person};
use notify_store::*;
use notify_testkit::T0;

fn lane() -> LaneInfo {
    LaneInfo::new("logch", "log:logch", "log", "log:logch")
}

fn person(welink: &str, wecom: Option<&str>) -> Person {
    Person {
        name: None,
        welink: Some(welink.into()),
        wecom: wecom.map(str::to_string),
        workid: None,
    }
}

/// A message with one log delivery of one send part to `users`, carrying a fallback to the
/// `wecom` channel that maps `a@welink` → `a` (a directory person) when `fallback` is true.
fn message(users: &[&str], fallback: bool) -> NewMessage {
    let id = notify_core::MessageId::new_at(T0).0;
    let plan = FallbackPlan {
        target: TargetInput {
            channel: "wecom".into(),
            users: Some(vec!["a".into(), "x".into()]),
            ..TargetInput::default()
        },
        field: "users".into(),
        map: BTreeMap::from([("a@welink".to_string(), "a".to_string())]),
    };
    NewMessage {
        id: id.clone(),
        tenant: "t1".into(),
        caller: "test".into(),
        body_hash: "h".into(),
        priority: 2,
        title: "t".into(),
        body: "{}".into(),
        response: "{}".into(),
        created_at: T0,
        expires_at: T0 + 60_000,
        deliveries: vec![NewDelivery {
            id: notify_core::DeliveryId::new_at(T0).0,
            channel: "logch".into(),
            kind: notify_core::ChannelKind::Log,
            native_type: "log".into(),
            status: notify_core::DeliveryStatus::Queued,
            context: "{}".into(),
            people: Some(r#"{"a@welink":"a"}"#.into()),
            fallback: fallback.then(|| serde_json::to_string(&plan).unwrap()),
            parts: vec![NewPart {
                id: notify_core::PartId::new_at(T0).0,
                seq: 0,
                op: PartOp::Send,
                lane: lane(),
                body: "{}".into(),
                recipients: serde_json::to_string(users).unwrap(),
                depends_on: None,
            }],
            ..NewDelivery::default()
        }],
        ..Default::default()
    }
}

async fn claim_one(store: &Store) -> ClaimedPart {
    let mut parts = store
        .outbox()
        .claim(&lane().lane, "w", 10, 10_000)
        .await
        .unwrap();
    assert_eq!(parts.len(), 1);
    parts.remove(0)
}

async fn finish(store: &Store, part: &ClaimedPart, result: PartResult) {
    let applied = store
        .outbox()
        .complete(&[Completion {
            part_id: part.id.clone(),
            lease_token: part.lease_token.clone(),
            result,
            attempt: None,
        }])
        .await
        .unwrap();
    assert_eq!(applied, [true]);
}

async fn message_status(store: &Store, id: &str) -> String {
    store
        .reads()
        .get_message(None, id)
        .await
        .unwrap()
        .unwrap()
        .status
        .to_string()
}

fn fallback_delivery() -> NewDelivery {
    NewDelivery {
        id: notify_core::DeliveryId::new_at(T0 + 1).0,
        channel: "logch".into(),
        kind: notify_core::ChannelKind::Log,
        native_type: "log".into(),
        status: notify_core::DeliveryStatus::Queued,
        context: "{}".into(),
        parts: vec![NewPart {
            id: notify_core::PartId::new_at(T0 + 1).0,
            seq: 0,
            op: PartOp::Send,
            lane: lane(),
            body: "{}".into(),
            recipients: r#"["a"]"#.into(),
            depends_on: None,
        }],
        ..NewDelivery::default()
    }
}

on_both_backends!(
    people_and_groups_are_kept_per_tenant,
    a_group_names_only_known_people_and_keeps_its_people,
    the_config_seed_replaces_the_same_ids_and_keeps_the_rest,
    a_failed_delivery_makes_its_fallback_due_once,
    an_expired_delivery_makes_its_fallback_due,
    an_expiry_for_the_spent_quota_makes_its_fallback_due,
    a_sent_delivery_with_refused_directory_people_falls_back_for_them_alone,
    rate_limits_and_unknown_outcomes_never_make_a_fallback_due,
    a_delivery_without_a_fallback_writes_no_pending_row,
);

async fn people_and_groups_are_kept_per_tenant(store: Store, _clock: ManualClock) {
    assert!(store
        .people()
        .put_person("t1", "a", &person("a@welink", Some("a")))
        .await
        .unwrap());
    assert!(!store
        .people()
        .put_person("t1", "a", &person("a2@welink", None))
        .await
        .unwrap());
    assert_eq!(
        store.people().person("t1", "a").await.unwrap().unwrap(),
        person("a2@welink", None)
    );
    assert!(store.people().person("t2", "a").await.unwrap().is_none());
    assert_eq!(store.people().list_people("t1").await.unwrap().len(), 1);
    assert!(store
        .people()
        .directory("t2")
        .await
        .unwrap()
        .people
        .is_empty());
    assert_eq!(
        store.people().delete_person("t1", "a").await.unwrap(),
        Ok(true)
    );
    assert_eq!(
        store.people().delete_person("t1", "a").await.unwrap(),
        Ok(false)
    );
}

async fn a_group_names_only_known_people_and_keeps_its_people(store: Store, _clock: ManualClock) {
    store
        .people()
        .put_person("t1", "a", &person("a@welink", None))
        .await
        .unwrap();
    let members = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        store.people().put_group("t1", "g", &members).await.unwrap(),
        Err(DirectoryRefusal::UnknownMembers(vec!["b".into()]))
    );
    assert_eq!(
        store
            .people()
            .put_group("t1", "g", &members[..1])
            .await
            .unwrap(),
        Ok(true)
    );
    assert_eq!(
        store.people().group("t1", "g").await.unwrap().unwrap(),
        ["a"]
    );
    assert_eq!(
        store.people().delete_person("t1", "a").await.unwrap(),
        Err(DirectoryRefusal::InGroups(vec!["g".into()]))
    );
    let dir = store.people().directory("t1").await.unwrap();
    assert_eq!(dir.groups["g"], ["a"]);
    assert!(store.people().delete_group("t1", "g").await.unwrap());
    assert!(!store.people().delete_group("t1", "g").await.unwrap());
    assert_eq!(
        store.people().delete_person("t1", "a").await.unwrap(),
        Ok(true)
    );
}

async fn the_config_seed_replaces_the_same_ids_and_keeps_the_rest(
    store: Store,
    _clock: ManualClock,
) {
    store
        .people()
        .put_person("default", "a", &person("edited@welink", None))
        .await
        .unwrap();
    store
        .people()
        .put_person("default", "api-only", &person("x@welink", None))
        .await
        .unwrap();
    let seed = Directory {
        people: BTreeMap::from([("a".to_string(), person("a@welink", Some("a")))]),
        groups: BTreeMap::from([("g".to_string(), vec!["a".to_string()])]),
    };
    store
        .people()
        .seed_directory("default", &seed)
        .await
        .unwrap();
    let dir = store.people().directory("default").await.unwrap();
    assert_eq!(dir.people["a"], person("a@welink", Some("a")));
    assert!(dir.people.contains_key("api-only"));
    assert_eq!(dir.groups["g"], ["a"]);
}

async fn a_failed_delivery_makes_its_fallback_due_once(store: Store, _clock: ManualClock) {
    let m = message(&["a@welink", "x@welink"], true);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let woken = store.fallback_wake().subscribe();
    let part = claim_one(&store).await;
    finish(
        &store,
        &part,
        PartResult::Failed {
            error: "40003 bad user".into(),
        },
    )
    .await;
    assert!(woken.has_changed().unwrap(), "the fallback loop is woken");
    let pending = store.outbox().pending_fallbacks(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason, FallbackReason::Whole);
    let target = pending[0].target().unwrap();
    assert_eq!(
        target.users.unwrap(),
        ["a", "x"],
        "the fallback target as given"
    );
    // Waiting for its fallback, the message is not final.
    assert_eq!(message_status(&store, &m.id).await, "accepted");

    let primary = &m.deliveries[0].id;
    let fb = fallback_delivery();
    assert!(store
        .outbox()
        .insert_fallback(primary, Some(&fb), T0 + 60_000)
        .await
        .unwrap());
    // A second replica racing for the same row adds nothing.
    let mut again = fallback_delivery();
    again.id = notify_core::DeliveryId::new_at(T0 + 2).0;
    assert!(!store
        .outbox()
        .insert_fallback(primary, Some(&again), T0 + 60_000)
        .await
        .unwrap());
    assert!(store
        .outbox()
        .pending_fallbacks(10)
        .await
        .unwrap()
        .is_empty());
    let view = store
        .reads()
        .get_message(None, &m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.deliveries.len(), 2);
    assert_eq!(
        view.deliveries[1].fallback_of.as_deref(),
        Some(primary.as_str())
    );
    assert_eq!(view.status, "accepted");

    // The fallback is sent: it stands in for the failed primary.
    let part = claim_one(&store).await;
    assert_eq!(part.delivery_id, fb.id);
    finish(
        &store,
        &part,
        PartResult::Done {
            upstream_id: Some("u1".into()),
            failed_recipients: vec![],
        },
    )
    .await;
    assert_eq!(message_status(&store, &m.id).await, "sent");
    // An admin retry of the primary that fails again does not fall back twice.
    assert!(store
        .outbox()
        .retry_delivery(primary, 60_000)
        .await
        .unwrap());
    let part = claim_one(&store).await;
    finish(
        &store,
        &part,
        PartResult::Failed {
            error: "again".into(),
        },
    )
    .await;
    assert!(store
        .outbox()
        .pending_fallbacks(10)
        .await
        .unwrap()
        .is_empty());
}

async fn an_expired_delivery_makes_its_fallback_due(store: Store, clock: ManualClock) {
    let m = message(&["a@welink"], true);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    clock.set_ms(T0 + 60_001);
    assert_eq!(store.outbox().sweep().await.unwrap().expired, 1);
    let pending = store.outbox().pending_fallbacks(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    // The fallback gets as long as the message had, from now.
    assert_eq!(pending[0].expires_at(T0 + 60_001), T0 + 120_001);
    assert!(store
        .outbox()
        .insert_fallback(&m.deliveries[0].id, None, T0 + 120_001)
        .await
        .unwrap());
    // Nobody to reach: the pending row goes, the message ends with its primary.
    assert_eq!(message_status(&store, &m.id).await, "expired");
}

async fn an_expiry_for_the_spent_quota_makes_its_fallback_due(store: Store, _clock: ManualClock) {
    // Xiaowei's daily quota spent with no time left before the next quota day: the dispatcher
    // expires the part (`PartResult::Expired`).
    let m = message(&["a@welink"], true);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let part = claim_one(&store).await;
    finish(
        &store,
        &part,
        PartResult::Expired {
            error: "daily quota spent; it would expire before the next quota day".into(),
        },
    )
    .await;
    let pending = store.outbox().pending_fallbacks(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason, FallbackReason::Whole);
}

async fn a_sent_delivery_with_refused_directory_people_falls_back_for_them_alone(
    store: Store,
    _clock: ManualClock,
) {
    let m = message(&["a@welink", "x@welink", "b@welink"], true);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let part = claim_one(&store).await;
    let refused = |r: &str| FailedRecipient {
        recipient: r.into(),
        code: "40031".into(),
        message: "invalid user".into(),
    };
    finish(
        &store,
        &part,
        PartResult::Done {
            upstream_id: Some("u".into()),
            // `x@welink` is no directory person: it has no fallback.
            failed_recipients: vec![refused("a@welink"), refused("x@welink")],
        },
    )
    .await;
    let pending = store.outbox().pending_fallbacks(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason, FallbackReason::People);
    let target = pending[0].target().unwrap();
    assert_eq!(target.users.unwrap(), ["a"]);
    assert_eq!(target.channel, "wecom");
    // A sent delivery whose refused recipients are no directory people has no fallback.
    let m2 = message(&["x@welink"], true);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m2))
        .await
        .unwrap();
    let part = claim_one(&store).await;
    finish(
        &store,
        &part,
        PartResult::Done {
            upstream_id: Some("u".into()),
            failed_recipients: vec![refused("x@welink")],
        },
    )
    .await;
    assert_eq!(store.outbox().pending_fallbacks(10).await.unwrap().len(), 1);
    assert_eq!(message_status(&store, &m2.id).await, "sent");
}

async fn rate_limits_and_unknown_outcomes_never_make_a_fallback_due(
    store: Store,
    clock: ManualClock,
) {
    let m = message(&["a@welink"], true);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    // A 48503 storm: retried, never final.
    for _ in 0..5 {
        let part = claim_one(&store).await;
        finish(
            &store,
            &part,
            PartResult::Retry {
                at_ms: notify_core::Clock::now_ms(&clock),
                spend_attempt: false,
                error: "48503 rate limited".into(),
                possible_duplicate: false,
            },
        )
        .await;
    }
    // A timeout: the call may have gone through; retried, not final.
    let part = claim_one(&store).await;
    finish(
        &store,
        &part,
        PartResult::Retry {
            at_ms: notify_core::Clock::now_ms(&clock),
            spend_attempt: true,
            error: "timeout".into(),
            possible_duplicate: true,
        },
    )
    .await;
    // A worker lost mid-call: its lease runs out, the sweeper queues it again.
    let _lost = claim_one(&store).await;
    clock.set_ms(T0 + 30_000);
    assert_eq!(store.outbox().sweep().await.unwrap().rescued, 1);
    assert!(store
        .outbox()
        .pending_fallbacks(10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(message_status(&store, &m.id).await, "accepted");
}

async fn a_delivery_without_a_fallback_writes_no_pending_row(store: Store, _clock: ManualClock) {
    let m = message(&["a@welink"], false);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let part = claim_one(&store).await;
    finish(
        &store,
        &part,
        PartResult::Failed {
            error: "bad".into(),
        },
    )
    .await;
    assert!(store
        .outbox()
        .pending_fallbacks(10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(message_status(&store, &m.id).await, "failed");
}
