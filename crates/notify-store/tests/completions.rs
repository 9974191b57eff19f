//! One completion batch holding every kind of result, on Postgres and on SQLite: each part,
//! delivery and message ends where its result puts it, a completion whose lease token is stale
//! (or that repeats one already applied) changes nothing but has its attempt logged, and the
//! answer keeps the caller's order.

mod common;

use notify_core::{ManualClock, PartOp};
use notify_store::*;
use notify_testkit::T0;

fn lane() -> LaneInfo {
    LaneInfo::new("logch", "log:logch", "log", "log:logch")
}

fn part(seq: i64, op: PartOp, depends_on: Option<i64>) -> NewPart {
    NewPart {
        id: notify_core::PartId::new_at(T0).0,
        seq,
        op,
        lane: lane(),
        body: "{}".into(),
        recipients: "[]".into(),
        depends_on,
    }
}

fn send(seq: i64) -> NewPart {
    part(seq, PartOp::Send, None)
}

/// An upload and the send that waits for it.
fn upload_then_send() -> Vec<NewPart> {
    vec![
        part(0, PartOp::Upload, None),
        part(1, PartOp::Send, Some(0)),
    ]
}

/// Message `n`, with one delivery per element of `deliveries` (its parts).
fn message(n: i64, deliveries: Vec<Vec<NewPart>>) -> NewMessage {
    let at = T0 - 1_000 + n;
    let id = notify_core::MessageId::new_at(at).0;
    NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "test".into(),
        body_hash: "h".into(),
        priority: 2,
        title: format!("message {n}"),
        body: "{}".into(),
        response: format!("{{\"id\":\"{id}\"}}"),
        created_at: at,
        expires_at: T0 + 3_600_000,
        deliveries: deliveries
            .into_iter()
            .enumerate()
            .map(|(seq, parts)| NewDelivery {
                id: notify_core::DeliveryId::new_at(at).0,
                seq: seq as i64,
                channel: "logch".into(),
                kind: notify_core::ChannelKind::Log,
                native_type: "log".into(),
                status: notify_core::DeliveryStatus::Queued,
                context: "{}".into(),
                parts,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn attempt(outcome: &str, possible_duplicate: bool) -> Option<AttemptRecord> {
    Some(AttemptRecord {
        at: T0,
        endpoint: "log".into(),
        http_status: Some(200),
        upstream_code: None,
        upstream_message: None,
        duration_ms: 2,
        outcome: outcome.into(),
        possible_duplicate,
    })
}

fn done(upstream: &str) -> PartResult {
    PartResult::Done {
        upstream_id: Some(upstream.into()),
        failed_recipients: vec![],
    }
}

/// A message's status, and per delivery its status, last error, and per part
/// `(status, attempts, upstream id, last error)`, and the outcomes of its attempt log.
type Seen = (String, Vec<DeliverySeen>);
type DeliverySeen = (
    String,
    Option<String>,
    Vec<(String, i64, Option<String>, Option<String>)>,
    Vec<String>,
);

async fn seen(store: &Store, m: &NewMessage) -> Seen {
    let v = store
        .reads()
        .get_message(None, &m.id)
        .await
        .unwrap()
        .unwrap();
    let deliveries = v
        .deliveries
        .into_iter()
        .map(|d| {
            let mut outcomes: Vec<String> = d.attempts.into_iter().map(|a| a.outcome).collect();
            outcomes.sort();
            (
                d.status.as_str().to_string(),
                d.last_error,
                d.parts
                    .into_iter()
                    .map(|p| {
                        (
                            p.status.as_str().to_string(),
                            p.attempts,
                            p.upstream_id,
                            p.last_error,
                        )
                    })
                    .collect(),
                outcomes,
            )
        })
        .collect();
    (v.status.as_str().to_string(), deliveries)
}

fn s(x: &str) -> String {
    x.to_string()
}

fn some(x: &str) -> Option<String> {
    Some(x.to_string())
}

on_both_backends!(a_mixed_batch_applies_each_result_and_rolls_up);

async fn a_mixed_batch_applies_each_result_and_rolls_up(store: Store, clock: ManualClock) {
    let two_parts = message(0, vec![vec![send(0), send(1)]]);
    let retried = message(1, vec![vec![send(0)]]);
    let failed = message(2, vec![vec![send(0)]]);
    let expired = message(3, vec![upload_then_send()]);
    let stale = message(4, vec![vec![send(0)]]);
    let uploaded = message(5, vec![upload_then_send()]);
    let mixed = message(6, vec![vec![send(0)], vec![send(0)]]);
    let all = [
        &two_parts, &retried, &failed, &expired, &stale, &uploaded, &mixed,
    ];
    let batch: Vec<NewMessage> = all.iter().map(|m| (*m).clone()).collect();
    store.outbox().insert_messages(&batch).await.unwrap();
    let claimed = store
        .outbox()
        .claim(&lane().lane, "w", 100, 60_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 9, "every part but the two blocked sends");
    let of = |d: &NewDelivery, seq: i64| {
        claimed
            .iter()
            .find(|p| p.delivery_id == d.id && p.seq == seq)
            .unwrap_or_else(|| panic!("part {seq} of {} claimed", d.id))
    };
    let complete =
        |p: &ClaimedPart, result: PartResult, attempt: Option<AttemptRecord>| Completion {
            part_id: p.id.clone(),
            lease_token: p.lease_token.clone(),
            result,
            attempt,
        };
    let first = of(&two_parts.deliveries[0], 0);
    let mut stale_part = complete(
        of(&stale.deliveries[0], 0),
        done("never"),
        attempt("sent", false),
    );
    stale_part.lease_token = "a lease taken over".into();
    // Not in part-id order: the answer must follow this order all the same.
    let completions = vec![
        complete(
            of(&mixed.deliveries[1], 0),
            PartResult::Failed {
                error: s("refused"),
            },
            attempt("failed", false),
        ),
        stale_part,
        complete(first, done("up-0"), attempt("sent", false)),
        complete(
            of(&retried.deliveries[0], 0),
            PartResult::Retry {
                at_ms: T0 + 5_000,
                spend_attempt: true,
                error: s("rate limited"),
                possible_duplicate: true,
            },
            attempt("timeout", true),
        ),
        complete(
            of(&uploaded.deliveries[0], 0),
            done("media-1"),
            attempt("sent", false),
        ),
        complete(
            of(&expired.deliveries[0], 0),
            PartResult::Expired { error: s("late") },
            None,
        ),
        complete(
            of(&failed.deliveries[0], 0),
            PartResult::Failed { error: s("bad") },
            attempt("failed", false),
        ),
        // The same part again, with its own token: the first completion already applied.
        complete(
            first,
            PartResult::Failed { error: s("twice") },
            attempt("repeated", false),
        ),
        complete(
            of(&two_parts.deliveries[0], 1),
            done("up-1"),
            attempt("sent", false),
        ),
        complete(
            of(&mixed.deliveries[0], 0),
            done("up-m"),
            attempt("sent", false),
        ),
    ];
    let applied = store.outbox().complete(&completions).await.unwrap();
    assert_eq!(
        applied,
        vec![true, false, true, true, true, true, true, false, true, true]
    );

    assert_eq!(
        seen(&store, &two_parts).await,
        (
            s("sent"),
            vec![(
                s("sent"),
                None,
                vec![
                    (s("done"), 1, some("up-0"), None),
                    (s("done"), 1, some("up-1"), None),
                ],
                vec![s("repeated"), s("sent"), s("sent")],
            )]
        ),
        "two parts of one delivery; a repeated completion is logged, not applied"
    );
    assert_eq!(
        seen(&store, &retried).await,
        (
            s("accepted"),
            vec![(
                s("queued"),
                None,
                vec![(s("queued"), 1, None, some("rate limited"))],
                vec![s("timeout")],
            )]
        )
    );
    assert_eq!(
        seen(&store, &failed).await,
        (
            s("failed"),
            vec![(
                s("failed"),
                some("bad"),
                vec![(s("failed"), 1, None, some("bad"))],
                vec![s("failed")],
            )]
        )
    );
    assert_eq!(
        seen(&store, &expired).await,
        (
            s("expired"),
            vec![(
                s("expired"),
                some("late"),
                vec![
                    (s("cancelled"), 0, None, some("late")),
                    (s("cancelled"), 0, None, some("late")),
                ],
                vec![],
            )]
        ),
        "the expired upload's send, still blocked, is cancelled with it"
    );
    assert_eq!(
        seen(&store, &stale).await,
        (
            s("accepted"),
            vec![(
                s("sending"),
                None,
                vec![(s("sending"), 0, None, None)],
                vec![s("sent")],
            )]
        ),
        "a stale lease changes nothing, but its call is logged"
    );
    assert_eq!(
        seen(&store, &uploaded).await,
        (
            s("accepted"),
            vec![(
                s("queued"),
                None,
                vec![
                    (s("done"), 1, some("media-1"), None),
                    (s("queued"), 0, None, None),
                ],
                vec![s("sent")],
            )]
        )
    );
    assert_eq!(
        seen(&store, &mixed).await,
        (
            s("partially_sent"),
            vec![
                (
                    s("sent"),
                    None,
                    vec![(s("done"), 1, some("up-m"), None)],
                    vec![s("sent")],
                ),
                (
                    s("failed"),
                    some("refused"),
                    vec![(s("failed"), 1, None, some("refused"))],
                    vec![s("failed")],
                ),
            ]
        )
    );
    // The attempt of the retried call carries its possible duplicate; so does the part.
    let view = store
        .reads()
        .get_message(None, &retried.id)
        .await
        .unwrap()
        .unwrap();
    assert!(view.deliveries[0].attempts[0].possible_duplicate);
    let flagged = store
        .execute_raw(&format!(
            "UPDATE parts SET possible_duplicate = 1 WHERE id = '{}' AND possible_duplicate = 1",
            of(&retried.deliveries[0], 0).id
        ))
        .await
        .unwrap();
    assert_eq!(
        flagged, 1,
        "the retried part is flagged a possible duplicate"
    );

    // Now due: the unblocked send, with its upload's media id. The retry is due later.
    let next = store
        .outbox()
        .claim(&lane().lane, "w", 100, 60_000)
        .await
        .unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].delivery_id, uploaded.deliveries[0].id);
    assert_eq!(next[0].dependency_id.as_deref(), Some("media-1"));
    clock.advance_ms(5_000);
    let later = store
        .outbox()
        .claim(&lane().lane, "w", 100, 60_000)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].delivery_id, retried.deliveries[0].id);
}
