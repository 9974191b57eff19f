//! The store's conformance suite: every behaviour, on Postgres and on SQLite.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use notify_core::{DeliveryStatus, ManualClock, PartOp, PartStatus};
use notify_store::outbox::RecallStart;
use notify_store::*;
use notify_testkit::T0;

fn lane() -> LaneInfo {
    LaneInfo::new("logch", "log:logch", "log", "log:logch")
}

/// When test message `n` was accepted: 1 ms apart, all before `T0`, so all are due at `T0`.
fn accepted_at(n: usize) -> i64 {
    T0 - 100_000 + n as i64
}

fn message(n: usize, parts_per_delivery: usize, key: Option<&str>, body_hash: &str) -> NewMessage {
    let now = T0;
    let id = notify_core::MessageId::new_at(accepted_at(n)).0;
    let did = notify_core::DeliveryId::new_at(now).0;
    NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "test".into(),
        idempotency_key: key.map(str::to_string),
        body_hash: body_hash.into(),
        priority: 2,
        title: format!("Disk almost full #{n}"),
        body: "{}".into(),
        response: format!("{{\"id\":\"{id}\"}}"),
        // Ids carry their accept time (NewMessage::id).
        created_at: accepted_at(n),
        not_before: None,
        expires_at: now + 3_600_000,
        deliveries: vec![NewDelivery {
            id: did,
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
            parts: (0..parts_per_delivery)
                .map(|i| NewPart {
                    id: notify_core::PartId::new_at(now).0,
                    seq: i as i64,
                    op: PartOp::Send,
                    lane: lane(),
                    body: format!("{{\"chunk\":{i}}}"),
                    recipients: "[]".into(),
                    depends_on: None,
                })
                .collect(),
        }],
        ..Default::default()
    }
}

fn done(p: &ClaimedPart, upstream: &str) -> Completion {
    Completion {
        part_id: p.id.clone(),
        lease_token: p.lease_token.clone(),
        result: PartResult::Done {
            upstream_id: Some(upstream.into()),
            failed_recipients: vec![],
        },
        attempt: Some(attempt("sent")),
    }
}

fn attempt(outcome: &str) -> AttemptRecord {
    AttemptRecord {
        at: T0,
        endpoint: "log".into(),
        http_status: Some(200),
        upstream_code: Some("0".into()),
        upstream_message: Some("ok".into()),
        duration_ms: 3,
        outcome: outcome.into(),
        possible_duplicate: false,
    }
}

async fn status_of(store: &Store, id: &str) -> (String, Vec<String>) {
    let m = store.reads().get_message(None, id).await.unwrap().unwrap();
    (
        m.status.to_string(),
        m.deliveries.iter().map(|d| d.status.to_string()).collect(),
    )
}

on_both_backends!(
    a_renewed_lease_is_not_rescued,
    renewal_skips_a_part_a_completion_holds,
    claims_are_exclusive_across_eight_workers,
    an_expired_lease_is_requeued_and_the_old_worker_is_fenced,
    idempotency_replays_and_conflicts,
    pages_are_newest_first_without_overlap,
    a_retry_resumes_at_the_unfinished_part,
    a_send_waits_for_its_upload,
    late_work_expires,
    recall_cancels_what_has_not_left,
    one_token_fetch_at_a_time,
    quota_never_exceeds_the_limit,
    one_enterprise_shares_one_quota_day,
    unit_leases_fence_a_takeover,
    a_signature_is_accepted_once,
    admin_retry_requeues_a_failed_delivery,
    retention_purges_finished_messages_only,
    claim_order_follows_priority,
    sidebar_lists_a_chats_waiting_deliveries_in_scope,
    sidebar_reports_are_idempotent_and_expiry_still_applies,
    oauth_states_are_single_use_and_age_out,
    waiting_chats_are_grouped_per_channel_and_chat,
    recall_cancels_a_waiting_juzi_delivery_but_not_a_sent_one,
    claim_is_fair_across_tenants,
    a_unit_is_taken_only_as_it_was_seen,
    a_time_range_lists_the_messages_accepted_in_it,
    calls_per_lane_are_counted_from_the_attempt_log_since_an_instant,
    stats_count_the_deliveries_accepted_in_the_window,
    lane_depths_count_open_parts_by_status,
    upkeep_does_autovacuums_work_on_the_tables_that_changed,
);

/// Calls `upkeep` until `table` is among the tables it `pick`s, for at most 30 s: the row
/// counts it decides by are the server's statistics, which a connection reports within about a
/// second of its transaction, or up to ten seconds when it stays busy.
async fn upkeep_until(store: &Store, table: &str, pick: fn(&upkeep::Upkeep) -> &Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let done = store.upkeep().await.unwrap();
        if pick(&done).iter().any(|t| t == table) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{table} was not taken by upkeep within 30 s (last: {done:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn upkeep_does_autovacuums_work_on_the_tables_that_changed(
    store: Store,
    _clock: ManualClock,
) {
    if store.dialect() == Dialect::Sqlite {
        // SQLite plans each statement from its schema and reuses freed pages itself.
        assert!(store.keeps_itself().await.unwrap());
        let batch: Vec<NewMessage> = (0..120).map(|i| message(i, 1, None, "h")).collect();
        store.outbox().insert_messages(&batch).await.unwrap();
        assert_eq!(store.upkeep().await.unwrap(), upkeep::Upkeep::default());
        return;
    }
    // The server's own period (a minute unless configured), in whole seconds.
    let naptime = store.autovacuum_naptime().await.unwrap();
    assert!(naptime >= std::time::Duration::from_secs(1), "{naptime:?}");
    // 120 new messages pass autovacuum's analyze threshold for an empty table (50 rows).
    let batch: Vec<NewMessage> = (0..120).map(|i| message(i, 1, None, "h")).collect();
    store.outbox().insert_messages(&batch).await.unwrap();
    upkeep_until(&store, "messages", |d| &d.analyzed).await;
    let again = store.upkeep().await.unwrap();
    assert!(
        !again
            .analyzed
            .iter()
            .chain(&again.vacuumed)
            .any(|t| t == "messages"),
        "an analyzed table is not due again at once: {again:?}"
    );
    // Claiming and completing the parts leaves two dead versions of each: parts is vacuumed.
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w", 200, 60_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 120);
    let batch: Vec<Completion> = claimed.iter().map(|p| done(p, "u")).collect();
    store.outbox().complete(&batch).await.unwrap();
    upkeep_until(&store, "parts", |d| &d.vacuumed).await;
}

async fn claims_are_exclusive_across_eight_workers(store: Store, _clock: ManualClock) {
    let batch: Vec<NewMessage> = (0..10_000).map(|i| message(i, 1, None, "h")).collect();
    for chunk in batch.chunks(1000) {
        store.outbox().insert_messages(chunk).await.unwrap();
    }
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let seen = seen.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let claimed = store
                    .outbox()
                    .claim(&lane().lane, &format!("w{w}"), 50, 60_000)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                let completions: Vec<Completion> = claimed.iter().map(|p| done(p, "x")).collect();
                let applied = store.outbox().complete(&completions).await.unwrap();
                assert!(applied.iter().all(|a| *a));
                seen.lock().extend(claimed.into_iter().map(|p| p.id));
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let seen = seen.lock().clone();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 10_000, "every part claimed");
    assert_eq!(unique.len(), 10_000, "no part claimed twice");
    let counts = store.reads().part_counts().await.unwrap();
    assert_eq!(counts, vec![("done".to_string(), 10_000)]);
}

async fn an_expired_lease_is_requeued_and_the_old_worker_is_fenced(
    store: Store,
    clock: ManualClock,
) {
    let m = message(0, 1, None, "h");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let first = store
        .outbox()
        .claim(&lane().lane, "crashed", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(store
        .outbox()
        .claim(&lane().lane, "other", 10, 30_000)
        .await
        .unwrap()
        .is_empty());

    clock.advance_ms(29_000);
    assert_eq!(
        store.outbox().sweep().await.unwrap().rescued,
        0,
        "lease still running"
    );
    clock.advance_ms(2_000);
    assert_eq!(store.outbox().sweep().await.unwrap().rescued, 1);

    let second = store
        .outbox()
        .claim(&lane().lane, "next", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempts, 1, "the lost try counts");

    // The crashed worker comes back and reports: fenced out.
    assert_eq!(
        store
            .outbox()
            .complete(&[done(&first[0], "old")])
            .await
            .unwrap(),
        vec![false]
    );
    assert_eq!(
        store
            .outbox()
            .complete(&[done(&second[0], "new")])
            .await
            .unwrap(),
        vec![true]
    );
    let view = store
        .reads()
        .get_message(None, &m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.deliveries[0].upstream_ids, vec!["new".to_string()]);
    assert_eq!(view.status, "sent");
    assert_eq!(
        view.deliveries[0].attempts.len(),
        2,
        "both calls are in the log"
    );
}

async fn idempotency_replays_and_conflicts(store: Store, _clock: ManualClock) {
    let a = message(0, 1, Some("alert-7f3a"), "hash-a");
    let same = message(1, 1, Some("alert-7f3a"), "hash-a");
    let other = message(2, 1, Some("alert-7f3a"), "hash-b");
    assert_eq!(
        store
            .outbox()
            .insert_messages(std::slice::from_ref(&a))
            .await
            .unwrap(),
        vec![InsertOutcome::Inserted]
    );
    let again = store
        .outbox()
        .insert_messages(&[same, other])
        .await
        .unwrap();
    assert_eq!(
        again[0],
        InsertOutcome::Replayed {
            response: a.response.clone()
        }
    );
    assert_eq!(
        again[1],
        InsertOutcome::Conflict {
            existing_id: a.id.clone()
        }
    );
    // Two uses of one new key inside one batch: the first wins.
    let b1 = message(3, 1, Some("k2"), "h1");
    let b2 = message(4, 1, Some("k2"), "h1");
    let r = store
        .outbox()
        .insert_messages(&[b1.clone(), b2])
        .await
        .unwrap();
    assert_eq!(r[0], InsertOutcome::Inserted);
    assert_eq!(
        r[1],
        InsertOutcome::Replayed {
            response: b1.response
        }
    );
    // Only two messages' parts are queued.
    assert_eq!(
        store.reads().part_counts().await.unwrap(),
        vec![("queued".to_string(), 2)]
    );
}

async fn a_time_range_lists_the_messages_accepted_in_it(store: Store, _clock: ManualClock) {
    // Messages 0..10 accepted 1 ms apart; two of them (4 and 7) by another tenant.
    let mut batch: Vec<NewMessage> = (0..10).map(|i| message(i, 1, None, "h")).collect();
    batch[4].tenant = "hr".into();
    batch[7].tenant = "hr".into();
    store.outbox().insert_messages(&batch).await.unwrap();
    let titles = |page: Vec<notify_store::MessageView>| -> Vec<String> {
        page.into_iter().map(|m| m.title).collect()
    };
    let range = |tenant: Option<&str>| MessageFilter {
        tenant: tenant.map(str::to_string),
        since: Some(accepted_at(3)),
        until: Some(accepted_at(8)),
        limit: 50,
        ..Default::default()
    };
    // Since is inclusive, until exclusive, newest first.
    assert_eq!(
        titles(store.reads().list_messages(&range(None)).await.unwrap()),
        ["#7", "#6", "#5", "#4", "#3"].map(|n| format!("Disk almost full {n}"))
    );
    assert_eq!(
        titles(
            store
                .reads()
                .list_messages(&range(Some("default")))
                .await
                .unwrap()
        ),
        ["#6", "#5", "#3"].map(|n| format!("Disk almost full {n}"))
    );
    assert_eq!(
        titles(
            store
                .reads()
                .list_messages(&range(Some("hr")))
                .await
                .unwrap()
        ),
        ["#7", "#4"].map(|n| format!("Disk almost full {n}"))
    );
    // A page of the range, then the rest after the cursor.
    let mut f = MessageFilter {
        limit: 2,
        ..range(None)
    };
    let first = store.reads().list_messages(&f).await.unwrap();
    f.before_id = first.last().map(|m| m.id.clone());
    f.limit = 50;
    assert_eq!(
        titles(store.reads().list_messages(&f).await.unwrap()),
        ["#5", "#4", "#3"].map(|n| format!("Disk almost full {n}"))
    );
}

async fn pages_are_newest_first_without_overlap(store: Store, _clock: ManualClock) {
    let mut batch: Vec<NewMessage> = (0..25).map(|i| message(i, 1, None, "h")).collect();
    batch[3].tenant = "hr".into();
    store.outbox().insert_messages(&batch).await.unwrap();
    let mut f = MessageFilter {
        tenant: Some("default".into()),
        limit: 10,
        ..Default::default()
    };
    let mut ids = Vec::new();
    loop {
        let page = store.reads().list_messages(&f).await.unwrap();
        if page.is_empty() {
            break;
        }
        f.before_id = page.last().map(|m| m.id.clone());
        ids.extend(page.into_iter().map(|m| m.id));
    }
    assert_eq!(ids.len(), 24, "other tenants' messages are not listed");
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(ids, sorted, "newest first");
    let text = store
        .reads()
        .list_messages(&MessageFilter {
            text: Some("#17".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(text.len(), 1);
    assert!(
        store
            .reads()
            .get_message(Some("hr"), &batch[0].id)
            .await
            .unwrap()
            .is_none(),
        "other tenant: not found"
    );
}

async fn a_retry_resumes_at_the_unfinished_part(store: Store, clock: ManualClock) {
    let m = message(0, 3, None, "h");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let by_seq = |s: i64| claimed.iter().find(|p| p.seq == s).unwrap();
    let retry = Completion {
        part_id: by_seq(1).id.clone(),
        lease_token: by_seq(1).lease_token.clone(),
        result: PartResult::Retry {
            at_ms: T0 + 1_000,
            spend_attempt: true,
            error: "502".into(),
            possible_duplicate: false,
        },
        attempt: Some(attempt("transient")),
    };
    store
        .outbox()
        .complete(&[done(by_seq(0), "u0"), retry, done(by_seq(2), "u2")])
        .await
        .unwrap();
    assert_eq!(status_of(&store, &m.id).await.1, vec!["queued"]);
    assert!(
        store
            .outbox()
            .claim(&lane().lane, "w", 10, 30_000)
            .await
            .unwrap()
            .is_empty(),
        "not before its retry time"
    );
    clock.advance_ms(1_000);
    let again = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1],
        "only the failed part comes back"
    );
    assert_eq!(again[0].attempts, 1);
    store
        .outbox()
        .complete(&[done(&again[0], "u1")])
        .await
        .unwrap();
    let view = store
        .reads()
        .get_message(None, &m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.status, "sent");
    assert_eq!(view.deliveries[0].upstream_ids, vec!["u0", "u1", "u2"]);
}

async fn a_send_waits_for_its_upload(store: Store, _clock: ManualClock) {
    let mut m = message(0, 2, None, "h");
    m.deliveries[0].parts[0].op = PartOp::Upload;
    m.deliveries[0].parts[1].depends_on = Some(0);
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let first = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "the send is blocked");
    assert_eq!(first[0].op, PartOp::Upload);
    store
        .outbox()
        .complete(&[done(&first[0], "media-1")])
        .await
        .unwrap();
    let send = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(send.len(), 1);
    assert_eq!(send[0].dependency_id.as_deref(), Some("media-1"));
    // The media id expired upstream: a fresh upload is queued and the send waits again.
    store
        .outbox()
        .complete(&[Completion {
            part_id: send[0].id.clone(),
            lease_token: send[0].lease_token.clone(),
            result: PartResult::Reupload {
                error: "40007".into(),
            },
            attempt: Some(attempt("media_expired")),
        }])
        .await
        .unwrap();
    let up2 = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!((up2.len(), up2[0].op), (1, PartOp::Upload));
    store
        .outbox()
        .complete(&[done(&up2[0], "media-2")])
        .await
        .unwrap();
    let send2 = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(send2[0].dependency_id.as_deref(), Some("media-2"));
    store
        .outbox()
        .complete(&[done(&send2[0], "msgid")])
        .await
        .unwrap();
    assert_eq!(status_of(&store, &m.id).await.0, "sent");
}

async fn late_work_expires(store: Store, clock: ManualClock) {
    let m = message(0, 1, None, "h");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    clock.advance_ms(3_600_000);
    let report = store.outbox().sweep().await.unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(
        status_of(&store, &m.id).await,
        ("expired".to_string(), vec!["expired".to_string()])
    );
    assert!(store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap()
        .is_empty());
}

async fn recall_cancels_what_has_not_left(store: Store, _clock: ManualClock) {
    let queued = message(0, 1, None, "h");
    let inflight = message(1, 1, None, "h");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&queued))
        .await
        .unwrap();
    let d = &queued.deliveries[0].id;
    assert_eq!(
        store.outbox().start_recall(d).await.unwrap(),
        RecallStart::Cancelled
    );
    assert_eq!(
        status_of(&store, &queued.id).await,
        ("recalled".to_string(), vec!["cancelled".to_string()])
    );

    store
        .outbox()
        .insert_messages(std::slice::from_ref(&inflight))
        .await
        .unwrap();
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    let d2 = &inflight.deliveries[0].id;
    assert_eq!(
        store.outbox().start_recall(d2).await.unwrap(),
        RecallStart::Pending
    );
    assert!(
        store
            .outbox()
            .take_pending_recalls()
            .await
            .unwrap()
            .is_empty(),
        "still in flight"
    );
    store
        .outbox()
        .complete(&[done(&claimed[0], "item-9")])
        .await
        .unwrap();
    assert_eq!(
        store.outbox().take_pending_recalls().await.unwrap(),
        vec![d2.clone()]
    );
    match store.outbox().start_recall(d2).await.unwrap() {
        RecallStart::Sent(parts) => assert_eq!(parts[0].1, "item-9"),
        other => panic!("{other:?}"),
    }
}

async fn one_token_fetch_at_a_time(store: Store, clock: ManualClock) {
    assert!(store
        .tokens()
        .begin_token_fetch("welink:a", "r1", 10_000)
        .await
        .unwrap());
    assert!(!store
        .tokens()
        .begin_token_fetch("welink:a", "r2", 10_000)
        .await
        .unwrap());
    store
        .tokens()
        .store_token("welink:a", "tok-1", T0 + 7_200_000, T0 + 6_900_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .tokens()
            .token("welink:a")
            .await
            .unwrap()
            .token
            .as_deref(),
        Some("tok-1")
    );
    assert!(
        !store
            .tokens()
            .drop_token("welink:a", "tok-0")
            .await
            .unwrap(),
        "a stale report keeps the new token"
    );
    assert!(store
        .tokens()
        .drop_token("welink:a", "tok-1")
        .await
        .unwrap());
    // A fetch whose owner died is taken over after its lease.
    assert!(store
        .tokens()
        .begin_token_fetch("welink:a", "r1", 10_000)
        .await
        .unwrap());
    clock.advance_ms(10_001);
    assert!(store
        .tokens()
        .begin_token_fetch("welink:a", "r2", 10_000)
        .await
        .unwrap());
    store
        .tokens()
        .reject_credential("welink:a", "10007", "wrong secret")
        .await
        .unwrap();
    assert!(
        !store
            .tokens()
            .begin_token_fetch("welink:a", "r3", 10_000)
            .await
            .unwrap(),
        "rejected: no fetching"
    );
    store.tokens().clear_rejection("welink:a").await.unwrap();
    assert!(store
        .tokens()
        .begin_token_fetch("welink:a", "r3", 10_000)
        .await
        .unwrap());
}

async fn quota_never_exceeds_the_limit(store: Store, _clock: ManualClock) {
    let mut granted = 0;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.quota().reserve_quota("xw", 20_000, 5).await.unwrap()
        }));
    }
    for t in tasks {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 5);
    assert_eq!(
        store.quota().quota_used("xw", 20_000).await.unwrap(),
        (5, false)
    );
    assert!(
        store.quota().reserve_quota("xw", 20_001, 5).await.unwrap(),
        "a new day"
    );
    store.quota().close_quota_day("xw", 20_001).await.unwrap();
    assert!(
        !store.quota().reserve_quota("xw", 20_001, 5).await.unwrap(),
        "closed by upstream"
    );
}

/// Xiaowei's 100 a day is per enterprise (000_… lines 750, 1523): two apps (client_ids) of one
/// enterprise, reserving side by side, get 100 between them, not 100 each.
async fn one_enterprise_shares_one_quota_day(store: Store, _clock: ManualClock) {
    use notify_channels::{build_channel, ChannelConfig};
    let xiaowei = |name: &str, client_id: &str, enterprise: &str| {
        let mut c = ChannelConfig::of_kind(notify_core::ChannelKind::Xiaowei);
        c.client_id = Some(client_id.into());
        c.client_secret = Some(notify_core::Secret::new("s"));
        c.enterprise = Some(enterprise.into());
        build_channel(name, &c).unwrap()
    };
    let apps = [
        xiaowei("alerts", "app-1", "acme"),
        xiaowei("reminders", "app-2", "acme"),
    ];
    assert_ne!(apps[0].adapter.credential(), apps[1].adapter.credential());
    let day = 20_000;
    let mut tasks = Vec::new();
    for app in &apps {
        let (s, key) = (store.clone(), app.quota_key().unwrap());
        let limit = i64::from(app.daily_quota().unwrap());
        tasks.push(tokio::spawn(async move {
            let mut granted = 0;
            for _ in 0..limit {
                granted += usize::from(s.quota().reserve_quota(&key, day, limit).await.unwrap());
            }
            granted
        }));
    }
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap();
    }
    assert_eq!(granted, 100, "one enterprise, one day's 100");
    for app in &apps {
        let key = app.quota_key().unwrap();
        assert_eq!(
            store.quota().quota_used(&key, day).await.unwrap(),
            (100, false)
        );
    }
    // Another enterprise's day is its own.
    let other = xiaowei("other", "app-3", "globex");
    assert!(store
        .quota()
        .reserve_quota(&other.quota_key().unwrap(), day, 100)
        .await
        .unwrap());
}

async fn unit_leases_fence_a_takeover(store: Store, clock: ManualClock) {
    let f1 = store
        .lanes()
        .acquire_unit("egress:default", "a", 10_000)
        .await
        .unwrap();
    assert_eq!(f1, Some(1));
    assert_eq!(
        store
            .lanes()
            .acquire_unit("egress:default", "b", 10_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .lanes()
            .acquire_unit("egress:default", "a", 10_000)
            .await
            .unwrap(),
        Some(1),
        "renewal keeps the fence"
    );
    clock.advance_ms(10_001);
    assert_eq!(
        store
            .lanes()
            .acquire_unit("egress:default", "b", 10_000)
            .await
            .unwrap(),
        Some(2)
    );
    store
        .lanes()
        .release_unit("egress:default", "b")
        .await
        .unwrap();
    assert_eq!(
        store
            .lanes()
            .acquire_unit("egress:default", "a", 10_000)
            .await
            .unwrap(),
        Some(3)
    );
    let owners = store.lanes().unit_owners().await.unwrap();
    assert_eq!(owners[0].owner.as_deref(), Some("a"));
    assert_eq!(
        store.lanes().heartbeat("a", 10_000).await.unwrap(),
        vec!["a".to_string()]
    );
}

async fn a_signature_is_accepted_once(store: Store, clock: ManualClock) {
    assert!(store
        .outbox()
        .remember_signature("sig-1", 300_000)
        .await
        .unwrap());
    assert!(!store
        .outbox()
        .remember_signature("sig-1", 300_000)
        .await
        .unwrap());
    clock.advance_ms(700_000);
    assert!(store
        .outbox()
        .remember_signature("sig-2", 300_000)
        .await
        .unwrap());
    assert!(
        store
            .outbox()
            .remember_signature("sig-1", 300_000)
            .await
            .unwrap(),
        "pruned after the window"
    );
}

async fn admin_retry_requeues_a_failed_delivery(store: Store, _clock: ManualClock) {
    let m = message(0, 1, None, "h");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let c = store
        .outbox()
        .claim(&lane().lane, "w", 1, 30_000)
        .await
        .unwrap();
    store
        .outbox()
        .complete(&[Completion {
            part_id: c[0].id.clone(),
            lease_token: c[0].lease_token.clone(),
            result: PartResult::Failed {
                error: "51062 illegal parameter".into(),
            },
            attempt: Some(attempt("permanent")),
        }])
        .await
        .unwrap();
    assert_eq!(status_of(&store, &m.id).await.0, "failed");
    let d = &m.deliveries[0].id;
    assert!(store.outbox().retry_delivery(d, 3_600_000).await.unwrap());
    assert!(
        !store.outbox().retry_delivery(d, 3_600_000).await.unwrap(),
        "only failed or expired"
    );
    let again = store
        .outbox()
        .claim(&lane().lane, "w", 1, 30_000)
        .await
        .unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 0));
}

async fn retention_purges_finished_messages_only(store: Store, clock: ManualClock) {
    let finished = message(0, 1, None, "h");
    let pending = message(1, 1, None, "h");
    store
        .outbox()
        .insert_messages(&[finished.clone(), pending.clone()])
        .await
        .unwrap();
    store
        .outbox()
        .start_recall(&finished.deliveries[0].id)
        .await
        .unwrap();
    clock.advance_ms(1_000);
    assert_eq!(
        store
            .outbox()
            .purge_finished(clock_now(&store), 10)
            .await
            .unwrap(),
        1
    );
    assert!(store
        .reads()
        .get_message(None, &finished.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .reads()
        .get_message(None, &pending.id)
        .await
        .unwrap()
        .is_some());
}

fn clock_now(store: &Store) -> i64 {
    store.now_ms()
}

async fn claim_order_follows_priority(store: Store, _clock: ManualClock) {
    let mut low = message(0, 1, None, "h");
    low.priority = 3;
    let mut urgent = message(1, 1, None, "h");
    urgent.priority = 0;
    store
        .outbox()
        .insert_messages(&[low.clone(), urgent.clone()])
        .await
        .unwrap();
    let c = store
        .outbox()
        .claim(&lane().lane, "w", 1, 30_000)
        .await
        .unwrap();
    assert_eq!(c[0].message_id, urgent.id);
}

/// A Juzi message for `chat_key`, waiting for an agent, in `tenant`.
fn juzi_message(n: usize, tenant: &str, chat_key: &str) -> NewMessage {
    let mut m = message(n, 0, None, "h");
    m.tenant = tenant.into();
    let d = &mut m.deliveries[0];
    d.channel = "juzi".into();
    d.kind = notify_core::ChannelKind::Juzi;
    d.native_type = "text".into();
    d.status = notify_core::DeliveryStatus::AwaitingAgent;
    d.context = serde_json::json!({"chat_id": "wrChat", "payloads": [
        {"msgtype": "text", "text": {"content": format!("hello {n}")}}
    ]})
    .to_string();
    d.chat_key = Some(chat_key.into());
    m
}

async fn sidebar_lists_a_chats_waiting_deliveries_in_scope(store: Store, clock: ManualClock) {
    let ours = juzi_message(1, "default", "chat:wrChat");
    let pinned_to_us = juzi_message(2, "default", "chat:wrChat@bot1");
    let other_bot = juzi_message(3, "default", "chat:wrChat@bot2");
    let other_tenant = juzi_message(4, "other", "chat:wrChat");
    let other_chat = juzi_message(5, "default", "chat:wrElse");
    store
        .outbox()
        .insert_messages(&[
            ours.clone(),
            pinned_to_us.clone(),
            other_bot,
            other_tenant,
            other_chat,
        ])
        .await
        .unwrap();
    let keys = vec!["chat:wrChat".to_string(), "chat:wrChat@bot1".to_string()];
    let got = store
        .sidebar()
        .waiting_for_chat("juzi", &keys, Some("default"), 50)
        .await
        .unwrap();
    let ids: HashSet<&str> = got.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        HashSet::from([
            ours.deliveries[0].id.as_str(),
            pinned_to_us.deliveries[0].id.as_str()
        ])
    );
    let first = got.iter().find(|d| d.id == ours.deliveries[0].id).unwrap();
    assert_eq!(first.title, "Disk almost full #1");
    assert_eq!(first.context["payloads"][0]["text"]["content"], "hello 1");
    // Without a tenant filter the other tenant's message of that chat shows too.
    let all = store
        .sidebar()
        .waiting_for_chat("juzi", &keys, None, 50)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    // Another channel of the same chat shows nothing.
    assert!(store
        .sidebar()
        .waiting_for_chat("juzi2", &keys, None, 50)
        .await
        .unwrap()
        .is_empty());
    // A sent one leaves the list; one past its deadline is not listed even before a sweep.
    store
        .sidebar()
        .record_agent_result(&ours.deliveries[0].id, true, None)
        .await
        .unwrap();
    let got = store
        .sidebar()
        .waiting_for_chat("juzi", &keys, Some("default"), 50)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    clock.advance_ms(3_600_001);
    assert!(store
        .sidebar()
        .waiting_for_chat("juzi", &keys, Some("default"), 50)
        .await
        .unwrap()
        .is_empty());
    let one = store
        .sidebar()
        .sidebar_delivery(&pinned_to_us.deliveries[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.chat_key.as_deref(), Some("chat:wrChat@bot1"));
    assert_eq!(one.status, "awaiting_agent");
    assert!(store
        .sidebar()
        .sidebar_delivery("dlv_none")
        .await
        .unwrap()
        .is_none());
}

async fn sidebar_reports_are_idempotent_and_expiry_still_applies(store: Store, clock: ManualClock) {
    let sent = juzi_message(1, "default", "chat:wrChat");
    let failed = juzi_message(2, "default", "chat:wrChat");
    let late = juzi_message(3, "default", "chat:wrChat");
    store
        .outbox()
        .insert_messages(&[sent.clone(), failed.clone(), late.clone()])
        .await
        .unwrap();
    let id = &sent.deliveries[0].id;
    assert_eq!(
        store
            .sidebar()
            .record_agent_result(id, true, None)
            .await
            .unwrap(),
        "sent"
    );
    assert_eq!(
        store
            .sidebar()
            .record_agent_result(id, true, None)
            .await
            .unwrap(),
        "sent"
    );
    // A later, different report changes nothing.
    assert_eq!(
        store
            .sidebar()
            .record_agent_result(id, false, Some("url is empty"))
            .await
            .unwrap(),
        "sent"
    );
    let fid = &failed.deliveries[0].id;
    assert_eq!(
        store
            .sidebar()
            .record_agent_result(fid, false, Some("text content is empty"))
            .await
            .unwrap(),
        "failed"
    );
    let view = store
        .reads()
        .get_message(None, &failed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.status, "failed");
    assert_eq!(
        view.deliveries[0].last_error.as_deref(),
        Some("text content is empty")
    );
    let view = store
        .reads()
        .get_message(None, &sent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.status, "sent");
    // Expiry while waiting: the sweep expires it and a late report cannot revive it.
    clock.advance_ms(3_600_000);
    let report = store.outbox().sweep().await.unwrap();
    assert_eq!(report.expired, 1);
    let lid = &late.deliveries[0].id;
    assert_eq!(
        store
            .sidebar()
            .record_agent_result(lid, true, None)
            .await
            .unwrap(),
        "expired"
    );
    let view = store
        .reads()
        .get_message(None, &late.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.deliveries[0].status, "expired");
}

async fn oauth_states_are_single_use_and_age_out(store: Store, clock: ManualClock) {
    store
        .sidebar()
        .put_oauth_state("abc123", "juzi", 600_000)
        .await
        .unwrap();
    store
        .sidebar()
        .put_oauth_state("old1", "juzi", 600_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .sidebar()
            .take_oauth_state("abc123", 600_000)
            .await
            .unwrap()
            .as_deref(),
        Some("juzi")
    );
    assert_eq!(
        store
            .sidebar()
            .take_oauth_state("abc123", 600_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .sidebar()
            .take_oauth_state("never", 600_000)
            .await
            .unwrap(),
        None
    );
    clock.advance_ms(600_001);
    assert_eq!(
        store
            .sidebar()
            .take_oauth_state("old1", 600_000)
            .await
            .unwrap(),
        None
    );
    // Unfinished sign-ins are forgotten when a new one starts.
    store
        .sidebar()
        .put_oauth_state("stale", "juzi", 600_000)
        .await
        .unwrap();
    clock.advance_ms(600_001);
    store
        .sidebar()
        .put_oauth_state("fresh", "juzi", 600_000)
        .await
        .unwrap();
    let n = store
        .execute_raw("UPDATE oauth_states SET created_at = created_at")
        .await
        .unwrap();
    assert_eq!(n, 1, "the stale state was purged");
}

async fn waiting_chats_are_grouped_per_channel_and_chat(store: Store, clock: ManualClock) {
    let first = juzi_message(1, "default", "chat:wrChat");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&first))
        .await
        .unwrap();
    clock.advance_ms(10);
    let second = juzi_message(2, "other", "chat:wrChat");
    let pinned = juzi_message(3, "default", "chat:wrChat@bot1");
    let mut elsewhere = juzi_message(4, "default", "contact:wmOne");
    elsewhere.deliveries[0].channel = "juzi2".into();
    let sent = juzi_message(5, "default", "chat:wrSent");
    store
        .outbox()
        .insert_messages(&[second, pinned, elsewhere, sent.clone()])
        .await
        .unwrap();
    store
        .sidebar()
        .record_agent_result(&sent.deliveries[0].id, true, None)
        .await
        .unwrap();
    let got = store.sidebar().waiting_chats(50).await.unwrap();
    let view: Vec<(&str, &str, i64)> = got
        .iter()
        .map(|c| (c.channel.as_str(), c.chat_key.as_str(), c.waiting))
        .collect();
    assert_eq!(
        view[0],
        ("juzi", "chat:wrChat", 2),
        "oldest first: {view:?}"
    );
    let rest: HashSet<(&str, &str, i64)> = view[1..].iter().copied().collect();
    assert_eq!(
        rest,
        HashSet::from([
            ("juzi", "chat:wrChat@bot1", 1),
            ("juzi2", "contact:wmOne", 1)
        ])
    );
    assert_eq!(got[0].oldest_at, first.created_at);
    assert_eq!(store.sidebar().waiting_chats(1).await.unwrap().len(), 1);
    // Past their deadline they are not waiting any more, even before a sweep.
    clock.advance_ms(3_600_001);
    assert!(store.sidebar().waiting_chats(50).await.unwrap().is_empty());
}

async fn recall_cancels_a_waiting_juzi_delivery_but_not_a_sent_one(
    store: Store,
    _clock: ManualClock,
) {
    let waiting = juzi_message(1, "default", "chat:wrChat");
    let sent = juzi_message(2, "default", "chat:wrChat");
    store
        .outbox()
        .insert_messages(&[waiting.clone(), sent.clone()])
        .await
        .unwrap();
    assert_eq!(
        store
            .outbox()
            .start_recall(&waiting.deliveries[0].id)
            .await
            .unwrap(),
        RecallStart::Cancelled
    );
    let view = store
        .reads()
        .get_message(None, &waiting.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.deliveries[0].status, "cancelled");
    assert!(store
        .sidebar()
        .waiting_for_chat("juzi", &["chat:wrChat".into()], None, 50)
        .await
        .unwrap()
        .iter()
        .all(|d| d.id != waiting.deliveries[0].id));
    let sid = &sent.deliveries[0].id;
    store
        .sidebar()
        .record_agent_result(sid, true, None)
        .await
        .unwrap();
    // Sent by an agent: nothing to recall, and it stays sent (the API marks it not_recallable).
    assert_eq!(
        store.outbox().start_recall(sid).await.unwrap(),
        RecallStart::Sent(vec![])
    );
    let view = store
        .reads()
        .get_message(None, &sent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.deliveries[0].status, "sent");
}

async fn claim_is_fair_across_tenants(store: Store, _clock: ManualClock) {
    // Tenant "flood" queues 200 normal parts first; tenant "quiet" then queues 2, and 1 urgent.
    let flood: Vec<NewMessage> = (0..200)
        .map(|i| {
            let mut m = message(i, 1, None, "h");
            m.tenant = "flood".into();
            m
        })
        .collect();
    store.outbox().insert_messages(&flood).await.unwrap();
    let mut quiet: Vec<NewMessage> = (200..202)
        .map(|i| {
            let mut m = message(i, 1, None, "h");
            m.tenant = "quiet".into();
            m
        })
        .collect();
    let mut alert = message(202, 1, None, "h");
    alert.tenant = "flood".into();
    alert.priority = 0;
    quiet.push(alert.clone());
    store.outbox().insert_messages(&quiet).await.unwrap();
    let c = store
        .outbox()
        .claim(&lane().lane, "w", 5, 30_000)
        .await
        .unwrap();
    let tenants: Vec<&str> = c.iter().map(|p| p.tenant.as_str()).collect();
    assert_eq!(c[0].message_id, alert.id, "urgent first, whoever sent it");
    // Within a priority, tenants take turns (in a turn, the order follows due time and id).
    for turn in tenants[1..].chunks(2) {
        let mut turn = turn.to_vec();
        turn.sort_unstable();
        assert_eq!(turn, ["flood", "quiet"], "{tenants:?}");
    }
    let c = store
        .outbox()
        .claim(&lane().lane, "w", 5, 30_000)
        .await
        .unwrap();
    assert!(c.iter().all(|p| p.tenant == "flood"), "quiet has no more");
    assert_eq!(c.len(), 5);
}

async fn a_unit_is_taken_only_as_it_was_seen(store: Store, _clock: ManualClock) {
    store
        .lanes()
        .acquire_unit("egress:g", "a", 10_000)
        .await
        .unwrap()
        .unwrap();
    let seen = store.lanes().unit_owners().await.unwrap()[0].clone();
    assert_eq!(seen.owner.as_deref(), Some("a"));
    // The owner renews: the row changes, so a watcher's stale view cannot take it.
    assert!(store
        .lanes()
        .renew_unit("egress:g", "a", seen.fence, 10_000)
        .await
        .unwrap());
    assert_eq!(
        store.lanes().take_unit(&seen, "b", 10_000).await.unwrap(),
        None
    );
    // A watcher that saw the renewed row unchanged for a lease takes it; the fence grows.
    let seen = store.lanes().unit_owners().await.unwrap()[0].clone();
    let fence = store.lanes().take_unit(&seen, "b", 10_000).await.unwrap();
    assert_eq!(fence, Some(seen.fence + 1));
    // The old owner's renewal under its old fence fails: it must stop.
    assert!(!store
        .lanes()
        .renew_unit("egress:g", "a", seen.fence, 10_000)
        .await
        .unwrap());
    // Released: free for anyone who saw it released.
    store.lanes().release_unit("egress:g", "b").await.unwrap();
    let seen = store.lanes().unit_owners().await.unwrap()[0].clone();
    assert_eq!(seen.owner, None);
    assert_eq!(
        store.lanes().take_unit(&seen, "c", 10_000).await.unwrap(),
        Some(seen.fence + 1)
    );
}

async fn a_renewed_lease_is_not_rescued(store: Store, clock: ManualClock) {
    let m = message(0, 1, None, "h");
    store
        .outbox()
        .insert_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w1", 1, 3_000)
        .await
        .unwrap();
    let token = claimed[0].lease_token.clone();
    // A slow call: the worker renews before the lease runs out, twice.
    for _ in 0..2 {
        clock.advance_ms(2_000);
        assert_eq!(
            store
                .outbox()
                .renew_leases("w1", std::slice::from_ref(&token), 3_000)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.outbox().sweep().await.unwrap().rescued,
            0,
            "a renewed lease is alive"
        );
    }
    // Another owner's renewal changes nothing.
    assert_eq!(
        store
            .outbox()
            .renew_leases("w2", std::slice::from_ref(&token), 3_000)
            .await
            .unwrap(),
        0
    );
    // The worker dies: no more renewals, rescued one lease later.
    clock.advance_ms(3_001);
    assert_eq!(store.outbox().sweep().await.unwrap().rescued, 1);
    assert_eq!(
        store
            .outbox()
            .renew_leases("w1", &[token], 3_000)
            .await
            .unwrap(),
        0,
        "too late: requeued"
    );
}

/// Renewal must not wait on a part whose row a completion batch holds: waiting while holding
/// other parts' rows deadlocked with that batch under load (issue 19).
async fn renewal_skips_a_part_a_completion_holds(store: Store, _clock: ManualClock) {
    use sqlx::Connection;
    let batch: Vec<NewMessage> = (0..2).map(|i| message(i, 1, None, "h")).collect();
    store.outbox().insert_messages(&batch).await.unwrap();
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w1", 2, 3_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let mut tokens: Vec<String> = claimed.iter().map(|p| p.lease_token.clone()).collect();
    tokens.dedup();
    // Another transaction holds one part's row, as a completion batch does until it commits.
    // SQLite has one writer and no row locks: there both are renewed.
    let mut holder = None;
    if store.dialect() == Dialect::Postgres {
        let schema = store.schema().expect("a scratch store has its schema");
        let mut c = sqlx::PgConnection::connect(&notify_testkit::pg_url())
            .await
            .unwrap();
        sqlx::query(&format!("SET search_path TO \"{schema}\""))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut c).await.unwrap();
        sqlx::query("SELECT id FROM parts WHERE id = $1 FOR UPDATE")
            .bind(&claimed[1].id)
            .fetch_one(&mut c)
            .await
            .unwrap();
        holder = Some(c);
    }
    let renewed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.outbox().renew_leases("w1", &tokens, 3_000),
    )
    .await
    .expect("renewal waited on a locked part")
    .unwrap();
    assert_eq!(renewed, if holder.is_some() { 1 } else { 2 });
    drop(holder);
}

async fn calls_per_lane_are_counted_from_the_attempt_log_since_an_instant(
    store: Store,
    _clock: ManualClock,
) {
    store
        .outbox()
        .insert_messages(&[message(0, 3, None, "h")])
        .await
        .unwrap();
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    // One call started 90 s ago, two just now (at T0).
    let mut early = done(&claimed[0], "u0");
    if let Some(a) = early.attempt.as_mut() {
        a.at = T0 - 90_000;
    }
    store
        .outbox()
        .complete(&[early, done(&claimed[1], "u1"), done(&claimed[2], "u2")])
        .await
        .unwrap();
    let last_minute = store.reads().lane_calls_since(T0 - 60_000).await.unwrap();
    assert_eq!(last_minute.get(&lane().lane), Some(&2), "{last_minute:?}");
    let last_two = store.reads().lane_calls_since(T0 - 120_000).await.unwrap();
    assert_eq!(last_two.get(&lane().lane), Some(&3), "{last_two:?}");
    assert!(store
        .reads()
        .lane_calls_since(T0 + 1)
        .await
        .unwrap()
        .is_empty());
}

async fn stats_count_the_deliveries_accepted_in_the_window(store: Store, _clock: ManualClock) {
    // Six messages accepted a minute apart, the delivery ids carrying the accept time as
    // ingress makes them; the last two by another tenant.
    let batch: Vec<NewMessage> = (0..6)
        .map(|i| {
            let mut m = message(i, 1, None, "h");
            let at = T0 - 600_000 + i as i64 * 60_000;
            m.created_at = at;
            m.deliveries[0].id = notify_core::DeliveryId::new_at(at).0;
            if i >= 4 {
                m.tenant = "hr".into();
            }
            m
        })
        .collect();
    store.outbox().insert_messages(&batch).await.unwrap();
    let total =
        |rows: Vec<(String, DeliveryStatus, i64)>| -> i64 { rows.iter().map(|r| r.2).sum() };
    assert_eq!(total(store.reads().stats(None, 0).await.unwrap()), 6);
    // From the third accept time on: messages 2..6, the bound inclusive.
    let since = T0 - 600_000 + 2 * 60_000;
    assert_eq!(total(store.reads().stats(None, since).await.unwrap()), 4);
    assert_eq!(
        total(store.reads().stats(None, since + 1).await.unwrap()),
        3
    );
    assert_eq!(
        total(store.reads().stats(Some("default"), since).await.unwrap()),
        2
    );
    assert_eq!(
        store.reads().stats(Some("hr"), since).await.unwrap(),
        vec![("logch".to_string(), DeliveryStatus::Queued, 2)]
    );
    assert!(store.reads().stats(None, T0).await.unwrap().is_empty());
}

async fn lane_depths_count_open_parts_by_status(store: Store, _clock: ManualClock) {
    // An upload with a send waiting for it, and two plain one-part messages.
    let mut with_upload = message(0, 2, None, "h");
    with_upload.deliveries[0].parts[0].op = PartOp::Upload;
    with_upload.deliveries[0].parts[1].depends_on = Some(0);
    store
        .outbox()
        .insert_messages(&[
            with_upload,
            message(1, 1, None, "h"),
            message(2, 1, None, "h"),
        ])
        .await
        .unwrap();
    let depth = |rows: Vec<(String, PartStatus, i64)>, status: &str| -> i64 {
        rows.iter()
            .filter(|(l, s, _)| *l == lane().lane && s == status)
            .map(|r| r.2)
            .sum()
    };
    let rows = store.reads().lane_depths().await.unwrap();
    assert_eq!(
        (
            depth(rows.clone(), "queued"),
            depth(rows.clone(), "blocked")
        ),
        (3, 1),
        "{rows:?}"
    );
    assert_eq!(depth(rows, "sending"), 0);
    // The oldest two are claimed: the upload and message 1's part.
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w", 2, 30_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].op, PartOp::Upload);
    let rows = store.reads().lane_depths().await.unwrap();
    assert_eq!(depth(rows.clone(), "queued"), 1, "{rows:?}");
    assert_eq!(depth(rows.clone(), "sending"), 2, "{rows:?}");
    assert_eq!(depth(rows, "blocked"), 1);
    // The upload done: it leaves the counts and its send is queued, no longer blocked.
    store
        .outbox()
        .complete(&[done(&claimed[0], "media-1")])
        .await
        .unwrap();
    let rows = store.reads().lane_depths().await.unwrap();
    assert_eq!(depth(rows.clone(), "queued"), 2, "{rows:?}");
    assert_eq!(depth(rows.clone(), "sending"), 1, "{rows:?}");
    assert_eq!(depth(rows, "blocked"), 0);
}
