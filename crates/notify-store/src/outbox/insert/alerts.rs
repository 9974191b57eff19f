//! Storm control inside the insert transaction (contract §6, "one alert's life"): the messages
//! of a batch that belong to an alert are classified against their alert's row, locked for the
//! rest of the transaction, in batch order:
//!
//! - **lead**: a firing message outside an open window is stored and sent as usual and opens
//!   the window `[accepted, accepted + dedup_window)`. The window runs from acceptance, not
//!   from the send: the send time is not known in this transaction, and a lead held back by a
//!   rate limit must still stop the storm behind it.
//! - **suppressed**: a firing message inside the window is stored with status `suppressed`,
//!   `suppressed_into` the lead and no deliveries (GET shows it without deliveries: nothing
//!   was planned to be sent), counted, and books the window's digest (`digest_due_at` = the
//!   window's end; a loop in notify-api makes it).
//! - **replay**: a message carrying the same source fingerprint as the alert's last one inside
//!   the window stores nothing; the caller gets the earlier message's answer.
//! - **resolve**: never suppressed; clears the window and the pending digest, cancels the
//!   alert's firing deliveries still queued and never attempted, and cancels its own delivery
//!   on every channel where nothing of the alert was sent ("nothing was sent for this alert").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use notify_core::{AlertStatus, MessageStatus};

use super::rows::AlertSeedRow;
use super::BatchWriter;
use crate::model::{NewMessage, NewStateUpdate};
use crate::outbox::roll_up::roll_up_messages;
use crate::StoreError;

use crate::alerts::{NOTHING_SENT, RESOLVED_BEFORE_SENT};

/// An `alerts` row as the classification reads and changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlertState {
    pub(crate) tenant: String,
    pub(crate) key: String,
    pub(crate) status: String,
    pub(crate) last_seen: i64,
    pub(crate) lead_message_id: Option<String>,
    pub(crate) window_start: Option<i64>,
    pub(crate) window_until: Option<i64>,
    pub(crate) dedup_window_ms: i64,
    pub(crate) sent_count: i64,
    pub(crate) suppressed_count: i64,
    pub(crate) suppressed_since_digest: i64,
    pub(crate) digest_due_at: Option<i64>,
    pub(crate) digest_window_start: Option<i64>,
    pub(crate) digest_lead_id: Option<String>,
    pub(crate) digest_count: i64,
    pub(crate) last_fingerprint: Option<String>,
    pub(crate) last_fingerprint_at: Option<i64>,
    pub(crate) last_fingerprint_message_id: Option<String>,
}

impl AlertState {
    /// A row selected with the columns of [`super::rows::AlertRow::COLUMNS`], in that order.
    pub(crate) fn of_row<R>(r: &R) -> Result<Self, StoreError>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            tenant: r.try_get(0)?,
            key: r.try_get(1)?,
            status: r.try_get(2)?,
            last_seen: r.try_get(3)?,
            lead_message_id: r.try_get(4)?,
            window_start: r.try_get(5)?,
            window_until: r.try_get(6)?,
            dedup_window_ms: r.try_get(7)?,
            sent_count: r.try_get(8)?,
            suppressed_count: r.try_get(9)?,
            suppressed_since_digest: r.try_get(10)?,
            digest_due_at: r.try_get(11)?,
            digest_window_start: r.try_get(12)?,
            digest_lead_id: r.try_get(13)?,
            digest_count: r.try_get(14)?,
            last_fingerprint: r.try_get(15)?,
            last_fingerprint_at: r.try_get(16)?,
            last_fingerprint_message_id: r.try_get(17)?,
        })
    }
}

/// What storm control made of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not an alert's (or its idempotency key is taken): stored as usual.
    Plain,
    /// The firing message that goes out and opens a window.
    Lead,
    /// Inside the window of `into`.
    Suppressed { into: String },
    /// A repeat of `of`: nothing is stored.
    Replay { of: String },
    /// A resolve.
    Resolve,
}

/// How a message's row is written: its status, the answer stored for replays (when it is not
/// the planned one) and its lead.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    pub(crate) status: &'static str,
    pub(crate) response: Option<String>,
    pub(crate) suppressed_into: Option<String>,
}

impl Stored {
    /// The row of a message as classified.
    pub(crate) fn of(m: &NewMessage, v: &Verdict) -> Self {
        match v {
            Verdict::Suppressed { into } => Stored {
                status: MessageStatus::Suppressed.as_str(),
                response: Some(suppressed_answer(&m.response, into)),
                suppressed_into: Some(into.clone()),
            },
            // A resolve whose only deliveries became state updates of the alert's cards
            // (stored `sent`) is not left `accepted`: its status sums its deliveries as usual.
            _ => Stored {
                status: MessageStatus::of(
                    &m.deliveries.iter().map(|d| d.status).collect::<Vec<_>>(),
                )
                .as_str(),
                ..Stored::default()
            },
        }
    }
}

/// The 202 answer of a suppressed message: the planned one with status `suppressed`, its lead
/// and no deliveries (none are stored).
pub(crate) fn suppressed_answer(planned: &str, into: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(planned) {
        Ok(serde_json::Value::Object(mut o)) => {
            o.insert("status".into(), MessageStatus::Suppressed.as_str().into());
            o.insert("suppressed_into".into(), into.into());
            o.insert("deliveries".into(), serde_json::Value::Array(Vec::new()));
            serde_json::Value::Object(o).to_string()
        }
        // The answer is built by the gateway and always an object; keep it if not.
        _ => planned.to_string(),
    }
}

/// Classifies one alert message against its (locked) alert row and updates the row.
pub(crate) fn classify(state: &mut AlertState, m: &NewMessage) -> Verdict {
    let Some(a) = &m.alert else {
        return Verdict::Plain;
    };
    let t = m.created_at;
    if let (Some(fp), Some(last), Some(at), Some(of)) = (
        &a.fingerprint,
        &state.last_fingerprint,
        state.last_fingerprint_at,
        &state.last_fingerprint_message_id,
    ) {
        if fp == last && t < at + a.dedup_window_ms {
            return Verdict::Replay { of: of.clone() };
        }
    }
    if let Some(fp) = &a.fingerprint {
        state.last_fingerprint = Some(fp.clone());
        state.last_fingerprint_at = Some(t);
        state.last_fingerprint_message_id = Some(m.id.clone());
    }
    state.last_seen = state.last_seen.max(t);
    state.dedup_window_ms = a.dedup_window_ms;
    match a.status {
        AlertStatus::Resolved => {
            state.status = AlertStatus::Resolved.as_str().into();
            state.window_start = None;
            state.window_until = None;
            state.sent_count += 1;
            // A resolve cancels the pending digest: the resolved message says it is over.
            state.digest_due_at = None;
            state.digest_window_start = None;
            state.digest_lead_id = None;
            state.digest_count = 0;
            state.suppressed_since_digest = 0;
            Verdict::Resolve
        }
        AlertStatus::Firing => {
            let open = state.status == AlertStatus::Firing.as_str()
                && state.window_until.is_some_and(|until| t < until);
            match (&state.lead_message_id, open) {
                (Some(lead), true) => {
                    let into = lead.clone();
                    state.suppressed_count += 1;
                    let slot_free_or_ours = state.digest_window_start.is_none()
                        || state.digest_window_start == state.window_start;
                    if slot_free_or_ours {
                        state.digest_due_at = state.window_until;
                        state.digest_window_start = state.window_start;
                        state.digest_lead_id = Some(into.clone());
                        state.digest_count += 1;
                    } else {
                        // The slot still holds an older window's digest (the loop has not made
                        // it yet): counted here, moved into the slot when that one is made.
                        state.suppressed_since_digest += 1;
                    }
                    Verdict::Suppressed { into }
                }
                _ => {
                    state.status = AlertStatus::Firing.as_str().into();
                    state.lead_message_id = Some(m.id.clone());
                    state.window_start = Some(t);
                    state.window_until = Some(t + a.dedup_window_ms);
                    state.sent_count += 1;
                    Verdict::Lead
                }
            }
        }
    }
}

pub(crate) use crate::sql::Arg;

/// The batch's storm control: every alert message's verdict (in batch order, `Plain` for the
/// others), the answers of replays, and the alert rows to write back.
pub(crate) struct Classified {
    pub(crate) verdicts: Vec<Verdict>,
    pub(crate) replay_answers: HashMap<String, String>,
    pub(crate) alerts: Vec<AlertState>,
}

/// Locks the batch's alerts (creating new ones) in key order and classifies their messages.
/// A message whose idempotency key is already taken (by an earlier batch or an earlier message
/// of this one) is left `Plain`: the insert answers it as a replay or conflict of that key.
pub(crate) async fn classify_batch(
    tx: &mut impl BatchWriter,
    batch: &[NewMessage],
) -> Result<Classified, StoreError> {
    // Seeds in (tenant, key) order: concurrent batches lock shared alerts in one order.
    let mut seeds: BTreeMap<(&str, &str), AlertSeedRow> = BTreeMap::new();
    for m in batch {
        if let Some(a) = &m.alert {
            seeds
                .entry((m.tenant.as_str(), a.key.as_str()))
                .or_insert(AlertSeedRow {
                    tenant: &m.tenant,
                    alert_key: &a.key,
                    status: a.status.as_str(),
                    first_seen: m.created_at,
                    last_seen: m.created_at,
                    dedup_window_ms: a.dedup_window_ms,
                });
        }
    }
    let seeds: Vec<AlertSeedRow> = seeds.into_values().collect();
    let mut states: HashMap<(String, String), AlertState> = tx
        .lock_alerts(&seeds)
        .await?
        .into_iter()
        .map(|s| ((s.tenant.clone(), s.key.clone()), s))
        .collect();

    let keyed: Vec<(&str, &str)> = batch
        .iter()
        .filter(|m| m.alert.is_some())
        .filter_map(|m| Some((m.tenant.as_str(), m.idempotency_key.as_deref()?)))
        .collect();
    let taken = if keyed.is_empty() {
        HashMap::new()
    } else {
        tx.key_holders(&keyed).await?
    };
    let mut seen_keys: HashSet<(&str, &str)> = HashSet::new();
    let mut verdicts = Vec::with_capacity(batch.len());
    for m in batch {
        let Some(a) = &m.alert else {
            verdicts.push(Verdict::Plain);
            continue;
        };
        if let Some(k) = m.idempotency_key.as_deref() {
            let fresh = !taken.contains_key(&(m.tenant.clone(), k.to_string()))
                && seen_keys.insert((m.tenant.as_str(), k));
            if !fresh {
                verdicts.push(Verdict::Plain);
                continue;
            }
        }
        let state = states
            .get_mut(&(m.tenant.clone(), a.key.clone()))
            .ok_or_else(|| StoreError::Corrupt(format!("alert {:?} was not locked", a.key)))?;
        verdicts.push(classify(state, m));
    }

    // A replay answers what its original answered: from this batch, or stored.
    let mut replay_answers = HashMap::new();
    let in_batch: HashMap<&str, (&NewMessage, &Verdict)> = batch
        .iter()
        .zip(&verdicts)
        .map(|(m, v)| (m.id.as_str(), (m, v)))
        .collect();
    let mut stored_ids = Vec::new();
    for v in &verdicts {
        if let Verdict::Replay { of } = v {
            match in_batch.get(of.as_str()) {
                Some((m, v)) => {
                    replay_answers.insert(of.clone(), answer_of(m, v));
                }
                None => stored_ids.push(of.clone()),
            }
        }
    }
    stored_ids.sort_unstable();
    stored_ids.dedup();
    if !stored_ids.is_empty() {
        let args: Vec<Arg> = stored_ids.iter().map(|id| Arg::Text(id)).collect();
        let sql = format!(
            "SELECT id, response FROM messages WHERE id IN ({})",
            crate::sql::list(args.len(), 1)
        );
        for row in tx.texts(&sql, &args).await? {
            if let [Some(id), Some(response)] = row.as_slice() {
                replay_answers.insert(id.clone(), response.clone());
            }
        }
    }
    Ok(Classified {
        verdicts,
        replay_answers,
        alerts: states.into_values().collect(),
    })
}

/// The answer a message of this batch is stored with.
fn answer_of(m: &NewMessage, v: &Verdict) -> String {
    match v {
        Verdict::Suppressed { into } => suppressed_answer(&m.response, into),
        _ => m.response.clone(),
    }
}

/// After the batch's deliveries are written: each resolve (in batch order) cancels its alert's
/// firing deliveries still queued and never attempted, and its own deliveries on channels
/// where nothing of the alert was sent; then the messages touched are rolled up, by the rule
/// every other roll-up follows (`outbox::roll_up`: a step stood down does not count).
pub(crate) async fn apply_resolves(
    tx: &mut impl BatchWriter,
    batch: &[NewMessage],
    verdicts: &[Verdict],
    fresh: &[bool],
    now: i64,
) -> Result<(), StoreError> {
    let mut messages = BTreeSet::new();
    for (i, m) in batch.iter().enumerate() {
        let (Verdict::Resolve, true, Some(a)) = (&verdicts[i], fresh[i], &m.alert) else {
            continue;
        };
        // Firing messages of the same alert later in this batch begin the next round: spared.
        let later: Vec<&str> = batch[i + 1..]
            .iter()
            .filter(|l| l.tenant == m.tenant && l.alert.as_ref().is_some_and(|la| la.key == a.key))
            .map(|l| l.id.as_str())
            .collect();
        let mut args = vec![
            Arg::Text(&m.tenant),
            Arg::Text(&a.key),
            Arg::Int(now),
            Arg::Text(RESOLVED_BEFORE_SENT),
        ];
        let spare = if later.is_empty() {
            String::new()
        } else {
            let list = crate::sql::list(later.len(), args.len() + 1);
            args.extend(later.iter().map(|id| Arg::Text(id)));
            format!(" AND id NOT IN ({list})")
        };
        let cancelled = tx
            .texts(
                &format!(
                    "UPDATE deliveries SET status = 'cancelled', last_error = $4, updated_at = $3, \
                       cancel_reason = CASE WHEN escalation_step IS NULL THEN cancel_reason \
                         ELSE '{step_reason}' END \
                     WHERE status = 'queued' AND message_id IN (SELECT id FROM messages \
                       WHERE tenant = $1 AND alert_key = $2 AND alert_status = 'firing'{spare}) \
                     AND NOT EXISTS (SELECT 1 FROM parts p WHERE p.delivery_id = deliveries.id \
                       AND (p.attempts > 0 OR p.status NOT IN ('queued', 'blocked'))) \
                     RETURNING id, message_id",
                    step_reason = crate::escalation::reason::RESOLVED,
                ),
                &args,
            )
            .await?;
        let own = tx
            .texts(
                "UPDATE deliveries SET status = 'cancelled', last_error = $5, updated_at = $3 \
                 WHERE message_id = $4 AND status = 'queued' AND NOT EXISTS ( \
                   SELECT 1 FROM deliveries d2 JOIN messages m2 ON m2.id = d2.message_id \
                   WHERE m2.tenant = $1 AND m2.alert_key = $2 AND m2.alert_status = 'firing' \
                     AND d2.channel = deliveries.channel \
                     AND d2.status NOT IN ('cancelled', 'failed', 'expired')) \
                 RETURNING id, message_id",
                &[
                    Arg::Text(&m.tenant),
                    Arg::Text(&a.key),
                    Arg::Int(now),
                    Arg::Text(&m.id),
                    Arg::Text(NOTHING_SENT),
                ],
            )
            .await?;
        let mut deliveries = Vec::new();
        for row in cancelled.iter().chain(&own) {
            if let [Some(d), Some(msg)] = row.as_slice() {
                deliveries.push(d.clone());
                messages.insert(msg.clone());
            }
        }
        if deliveries.is_empty() {
            continue;
        }
        let mut args = vec![Arg::Int(now)];
        let list = crate::sql::list(deliveries.len(), 2);
        args.extend(deliveries.iter().map(|d| Arg::Text(d)));
        tx.exec(
            &format!(
                "UPDATE parts SET status = 'cancelled', updated_at = $1 \
                 WHERE delivery_id IN ({list}) AND status IN ('queued', 'blocked')"
            ),
            &args,
        )
        .await?;
    }
    let dialect = tx.dialect();
    roll_up_messages(tx, dialect, &messages, now).await
}

/// Appends a resolve's state-update calls to an earlier (sent) delivery of its alert, after
/// its last part, queued now and valid for the update's time to live.
pub(crate) async fn append_parts(
    tx: &mut impl BatchWriter,
    u: &NewStateUpdate,
    now: i64,
) -> Result<(), StoreError> {
    let row = tx
        .texts(
            "SELECT d.message_id, d.tenant, d.channel, CAST(m.priority AS TEXT), \
                    CAST((SELECT COALESCE(MAX(seq), 0) FROM parts WHERE delivery_id = d.id) AS TEXT) \
             FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = $1",
            &[Arg::Text(&u.delivery_id)],
        )
        .await?;
    let Some([Some(message_id), Some(tenant), Some(channel), Some(priority), Some(max_seq)]) =
        row.first().map(Vec::as_slice)
    else {
        return Err(StoreError::Corrupt(format!(
            "state update of a missing delivery {}",
            u.delivery_id
        )));
    };
    let int = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| StoreError::Corrupt(format!("not a number: {s:?}")))
    };
    let (priority, max_seq) = (int(priority)?, int(max_seq)?);
    for (i, p) in u.parts.iter().enumerate() {
        tx.exec(
            "INSERT INTO parts (id, delivery_id, message_id, seq, op, lane, interface, channel, \
             tenant, priority, status, body, recipients, next_attempt_at, expires_at, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $13, $14, $13, $13)",
            &[
                Arg::Text(&p.id),
                Arg::Text(&u.delivery_id),
                Arg::Text(message_id),
                Arg::Int(max_seq + 1 + i as i64),
                Arg::Text(p.op.as_str()),
                Arg::Text(&p.lane.lane),
                Arg::Text(&p.lane.interface),
                Arg::Text(channel),
                Arg::Text(tenant),
                Arg::Int(priority),
                Arg::Text(&p.body),
                Arg::Text(&p.recipients),
                Arg::Int(now),
                Arg::Int(now + u.ttl_ms),
            ],
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewAlert;

    fn state() -> AlertState {
        AlertState {
            tenant: "t".into(),
            key: "k".into(),
            status: "firing".into(),
            last_seen: 0,
            lead_message_id: None,
            window_start: None,
            window_until: None,
            dedup_window_ms: 1_000,
            sent_count: 0,
            suppressed_count: 0,
            suppressed_since_digest: 0,
            digest_due_at: None,
            digest_window_start: None,
            digest_lead_id: None,
            digest_count: 0,
            last_fingerprint: None,
            last_fingerprint_at: None,
            last_fingerprint_message_id: None,
        }
    }

    fn msg(id: &str, at: i64, status: AlertStatus, fp: Option<&str>) -> NewMessage {
        NewMessage {
            id: id.into(),
            created_at: at,
            alert: Some(NewAlert {
                key: "k".into(),
                status,
                dedup_window_ms: 1_000,
                fingerprint: fp.map(str::to_string),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_window_suppresses_and_books_one_digest() {
        let mut s = state();
        assert_eq!(
            classify(&mut s, &msg("a", 10, AlertStatus::Firing, None)),
            Verdict::Lead
        );
        for (i, at) in [20, 500, 1_009].into_iter().enumerate() {
            assert_eq!(
                classify(
                    &mut s,
                    &msg(&format!("s{i}"), at, AlertStatus::Firing, None)
                ),
                Verdict::Suppressed { into: "a".into() }
            );
        }
        assert_eq!(s.digest_due_at, Some(1_010));
        assert_eq!(s.digest_window_start, Some(10));
        assert_eq!(
            (s.digest_count, s.suppressed_count, s.sent_count),
            (3, 3, 1)
        );
        // The window has ended: the next firing message goes out and opens another.
        assert_eq!(
            classify(&mut s, &msg("b", 1_010, AlertStatus::Firing, None)),
            Verdict::Lead
        );
        // The first window's digest is still pending: the new window's count waits.
        classify(&mut s, &msg("s3", 1_011, AlertStatus::Firing, None));
        assert_eq!(
            (s.digest_window_start, s.suppressed_since_digest),
            (Some(10), 1)
        );
    }

    #[test]
    fn a_repeated_fingerprint_inside_the_window_is_a_replay() {
        let mut s = state();
        classify(&mut s, &msg("a", 10, AlertStatus::Firing, Some("f")));
        assert_eq!(
            classify(&mut s, &msg("b", 900, AlertStatus::Firing, Some("f"))),
            Verdict::Replay { of: "a".into() }
        );
        assert_eq!(s.suppressed_count, 0, "a replay is not counted");
        assert_eq!(
            classify(&mut s, &msg("c", 1_010, AlertStatus::Firing, Some("f"))),
            Verdict::Lead
        );
    }

    #[test]
    fn a_resolve_is_never_suppressed_and_cancels_the_digest() {
        let mut s = state();
        classify(&mut s, &msg("a", 10, AlertStatus::Firing, None));
        classify(&mut s, &msg("b", 11, AlertStatus::Firing, None));
        assert_eq!(
            classify(&mut s, &msg("r", 12, AlertStatus::Resolved, None)),
            Verdict::Resolve
        );
        assert_eq!((s.digest_due_at, s.digest_count), (None, 0));
        assert_eq!(
            classify(&mut s, &msg("c", 13, AlertStatus::Firing, None)),
            Verdict::Lead,
            "firing again after a resolve is a new lead"
        );
    }

    #[test]
    fn a_suppressed_answer_names_its_lead() {
        let a = suppressed_answer(r#"{"id":"m","status":"accepted","deliveries":[{}]}"#, "l");
        let v: serde_json::Value = serde_json::from_str(&a).expect("json");
        assert_eq!(v["status"], "suppressed");
        assert_eq!(v["suppressed_into"], "l");
        assert_eq!(v["deliveries"], serde_json::json!([]));
    }
}
