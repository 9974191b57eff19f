//! Inserting accepted messages: one transaction per batch, every table's rows written set-based
//! (one statement per table whatever the batch size). The algorithm is here once; each backend
//! supplies a [`BatchWriter`]: Postgres binds one array per column and expands them with
//! `UNNEST` over a native connection ([`postgres`]), SQLite binds one JSON array and expands it
//! with `json_each` ([`sqlite`]).

mod alerts;
mod postgres;
mod rows;
mod sqlite;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{InsertOutcome, LaneInfo, NewMessage};
use crate::outbox::roll_up::RollUpTx;
use crate::outbox::Outbox;
use crate::{Dialect, StoreError};
use alerts::{AlertState, Arg, Stored, Verdict};
use rows::{AlertRow, AlertSeedRow, DeliveryRow, MessageRow, PartRow};

/// What a message that already holds an idempotency key was stored with.
pub(crate) struct KeyHolder {
    /// Its id.
    pub(crate) id: String,
    /// Its body's hash: equal for a replay, different for a conflicting reuse of the key.
    pub(crate) body_hash: String,
    /// Its first answer, returned again to a replay.
    pub(crate) response: String,
}

impl KeyHolder {
    /// A row of a key-holder lookup: `tenant, idempotency_key, id, body_hash, response`.
    pub(crate) fn of_row<R>(r: &R) -> Result<((String, String), KeyHolder), StoreError>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok((
            (r.try_get(0)?, r.try_get(1)?),
            KeyHolder {
                id: r.try_get(2)?,
                body_hash: r.try_get(3)?,
                response: r.try_get(4)?,
            },
        ))
    }
}

/// What ends a messages INSERT that skips rows whose idempotency key is taken.
pub(crate) const SKIP_TAKEN_KEYS: &str =
    " ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING id";

/// The columns of a key-holder lookup (`m` is `messages`), in [`KeyHolder::of_row`]'s order.
pub(crate) const KEY_HOLDER_COLUMNS: &str =
    "m.tenant, m.idempotency_key, m.id, m.body_hash, m.response";

/// One open write transaction, as the batch insert uses it.
pub(crate) trait BatchWriter {
    /// The backend it writes to.
    fn dialect(&self) -> Dialect;
    /// Inserts `rows`, skipping those whose (tenant, idempotency key) is taken: `None` when
    /// every row went in, else the ids written.
    async fn messages(
        &mut self,
        rows: &[MessageRow<'_>],
    ) -> Result<Option<HashSet<String>>, StoreError>;
    /// The holders of the given (tenant, idempotency key) pairs that exist.
    async fn key_holders(
        &mut self,
        keys: &[(&str, &str)],
    ) -> Result<HashMap<(String, String), KeyHolder>, StoreError>;
    /// Inserts delivery rows.
    async fn deliveries(&mut self, rows: &[DeliveryRow<'_>]) -> Result<(), StoreError>;
    /// Inserts part rows.
    async fn parts(&mut self, rows: &[PartRow<'_>]) -> Result<(), StoreError>;
    /// Registers a lane and its ownership unit if they are new.
    async fn lane(&mut self, lane: &LaneInfo, now: i64) -> Result<(), StoreError>;
    /// Wakes listening workers when the transaction commits (Postgres `NOTIFY`).
    async fn notify(&mut self, channel: &str) -> Result<(), StoreError>;
    /// Inserts the alerts that do not exist yet, then locks every one of `seeds` (given in
    /// (tenant, key) order) for the rest of the transaction and reads it.
    async fn lock_alerts(
        &mut self,
        seeds: &[AlertSeedRow<'_>],
    ) -> Result<Vec<AlertState>, StoreError>;
    /// Writes classified alerts back.
    async fn save_alerts(&mut self, rows: &[AlertRow<'_>]) -> Result<(), StoreError>;
    /// Runs one statement written for both backends (`$n` parameters); rows affected.
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;
    /// Runs one query written for both backends whose columns are all text.
    async fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError>;
    /// Commits.
    async fn commit(self) -> Result<(), StoreError>;
}

/// The batch insert's transaction runs the message roll-up's statements too (a resolve
/// cancels deliveries of earlier messages), so every roll-up follows the one rule.
impl<W: BatchWriter> RollUpTx for W {
    async fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        BatchWriter::texts(self, sql, args).await
    }

    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        BatchWriter::exec(self, sql, args).await
    }
}

impl Outbox<'_> {
    /// Inserts a batch of accepted messages in one transaction (one commit for many callers:
    /// the road to fast ingress with `synchronous_commit` on). Each message gets its own
    /// outcome; a message whose idempotency key is taken inserts nothing.
    pub async fn insert_messages(
        self,
        batch: &[NewMessage],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        match &self.store.native_pg {
            Some(pool) => {
                let tx = postgres::UnnestWriter::begin(pool).await?;
                self.write_batch(tx, batch).await
            }
            None => {
                let tx = sqlite::JsonWriter(self.store.begin_tx().await?);
                self.write_batch(tx, batch).await
            }
        }
    }

    async fn write_batch(
        self,
        mut tx: impl BatchWriter,
        batch: &[NewMessage],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let now = self.store.now_ms();
        // 0. Storm control, only for batches holding alert messages: the others pay nothing.
        let storm = if batch.iter().any(|m| m.alert.is_some()) {
            Some(alerts::classify_batch(&mut tx, batch).await?)
        } else {
            None
        };
        let verdicts: Vec<Verdict> = match &storm {
            Some(c) => c.verdicts.clone(),
            None => vec![Verdict::Plain; batch.len()],
        };
        let stored: Vec<Stored> = batch
            .iter()
            .zip(&verdicts)
            .map(|(m, v)| Stored::of(m, v))
            .collect();

        // 1. Messages (replays store nothing), skipping taken idempotency keys.
        let rows: Vec<MessageRow> = batch
            .iter()
            .zip(&stored)
            .zip(&verdicts)
            .filter(|(_, v)| !matches!(v, Verdict::Replay { .. }))
            .map(|((m, s), _)| MessageRow::of(m, s))
            .collect();
        let written = if rows.is_empty() {
            Some(HashSet::new())
        } else {
            tx.messages(&rows).await?
        };
        let inserted: Vec<bool> = batch
            .iter()
            .zip(&verdicts)
            .map(|(m, v)| match (v, &written) {
                (Verdict::Replay { .. }, _) => false,
                (_, None) => true,
                (_, Some(ids)) => ids.contains(&m.id),
            })
            .collect();

        // 2. Keys already taken (by an earlier batch, or by an earlier message of this one): a
        //    replay of the same body, or a conflict.
        let taken: Vec<(&str, &str)> = batch
            .iter()
            .zip(&inserted)
            .zip(&verdicts)
            .filter(|((_, fresh), v)| !**fresh && !matches!(v, Verdict::Replay { .. }))
            .filter_map(|((m, _), _)| Some((m.tenant.as_str(), m.idempotency_key.as_deref()?)))
            .collect();
        let holders = if taken.is_empty() {
            HashMap::new()
        } else {
            tx.key_holders(&taken).await?
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        for ((m, fresh), (v, s)) in batch
            .iter()
            .zip(&inserted)
            .zip(verdicts.iter().zip(&stored))
        {
            if let Verdict::Replay { of } = v {
                let response = storm
                    .as_ref()
                    .and_then(|c| c.replay_answers.get(of))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("message {of}, replayed, has no answer"))
                    })?;
                outcomes.push(InsertOutcome::Replayed {
                    response: response.clone(),
                });
                continue;
            }
            if *fresh {
                outcomes.push(match (v, &s.response) {
                    (Verdict::Suppressed { .. }, Some(response)) => InsertOutcome::Suppressed {
                        response: response.clone(),
                    },
                    _ => InsertOutcome::Inserted,
                });
                continue;
            }
            if *v != Verdict::Plain {
                // Classified as fresh under the alert's lock, yet its key was taken meanwhile
                // (a concurrent reuse of the key for another alert): fail the batch rather
                // than leave the alert pointing at a message that does not exist.
                return Err(StoreError::Corrupt(format!(
                    "message {}: idempotency key taken while its alert was classified",
                    m.id
                )));
            }
            let holder = m
                .idempotency_key
                .as_ref()
                .and_then(|k| holders.get(&(m.tenant.clone(), k.clone())));
            let Some(holder) = holder else {
                return Err(StoreError::Corrupt(format!(
                    "message {} neither inserted nor found by its key",
                    m.id
                )));
            };
            outcomes.push(if holder.body_hash == m.body_hash {
                InsertOutcome::Replayed {
                    response: holder.response.clone(),
                }
            } else {
                InsertOutcome::Conflict {
                    existing_id: holder.id.clone(),
                }
            });
        }

        // 3. Deliveries and parts of the messages inserted now (a suppressed one has none).
        let fresh: Vec<&NewMessage> = batch
            .iter()
            .zip(&inserted)
            .zip(&verdicts)
            .filter(|((_, fresh), v)| **fresh && !matches!(v, Verdict::Suppressed { .. }))
            .map(|((m, _), _)| m)
            .collect();
        let deliveries: Vec<DeliveryRow> = fresh
            .iter()
            .flat_map(|m| m.deliveries.iter().map(move |d| DeliveryRow::of(m, d)))
            .collect();
        if !deliveries.is_empty() {
            tx.deliveries(&deliveries).await?;
        }
        // Sorted, so concurrent transactions registering the same new lanes take their row locks
        // in one order and cannot deadlock each other.
        let mut lanes: BTreeMap<&str, &LaneInfo> = BTreeMap::new();
        let parts: Vec<PartRow> = fresh
            .iter()
            .flat_map(|m| m.deliveries.iter().map(move |d| (*m, d)))
            .flat_map(|(m, d)| d.parts.iter().map(move |p| (m, d, p)))
            .map(|(m, d, p)| {
                lanes.insert(&p.lane.lane, &p.lane);
                PartRow::of(m, d, p)
            })
            .collect();
        if !parts.is_empty() {
            tx.parts(&parts).await?;
        }

        // 4. The alerts' rows, what their resolves cancel, and the state updates they append
        //    to the alert's sent cards.
        let mut appended = 0;
        if let Some(c) = &storm {
            let rows: Vec<AlertRow> = c.alerts.iter().map(AlertRow::of).collect();
            tx.save_alerts(&rows).await?;
            alerts::apply_resolves(&mut tx, batch, &verdicts, &inserted, now).await?;
            for m in &fresh {
                for u in &m.state_updates {
                    alerts::append_parts(&mut tx, u, now).await?;
                    appended += u.parts.len();
                    for p in &u.parts {
                        lanes.insert(&p.lane.lane, &p.lane);
                    }
                }
            }
        }

        let mut new_lanes = Vec::new();
        for lane in lanes.into_values() {
            if !self.store.lane_known(&lane.lane) {
                tx.lane(lane, now).await?;
                new_lanes.push(lane.lane.clone());
            }
        }
        let queued_work = !parts.is_empty() || appended > 0;
        if queued_work {
            // NOTIFY is transactional: sent at commit, one per batch, no extra round trip.
            tx.notify(&crate::wake::channel_name(self.store.schema.as_deref()))
                .await?;
        }
        tx.commit().await?;
        self.store.remember_lanes(new_lanes);
        if queued_work {
            self.store.wake.bump();
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use notify_core::DeliveryStatus;

    use super::rows::{DeliveryRow, MessageRow, PartRow};

    /// The row structs serialise their fields under the column names, in column order: the
    /// SQLite writer reads them by name and the Postgres writer binds them in that order.
    #[test]
    fn rows_serialise_in_column_order() {
        let m = notify_test_message();
        let d = &m.deliveries[0];
        let p = &d.parts[0];
        let check = |json: String, cols: &[(&str, &str)]| {
            let v: serde_json::Value = serde_json::from_str(&json).expect("json");
            let keys: Vec<&str> = v
                .as_object()
                .expect("object")
                .keys()
                .map(|k| k.as_str())
                .collect();
            let mut want: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
            want.sort_unstable();
            let mut got = keys.clone();
            got.sort_unstable();
            assert_eq!(got, want);
            let positions: Vec<usize> = cols
                .iter()
                .map(|(n, _)| json.find(&format!("\"{n}\":")).expect("field"))
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        };
        let stored = super::alerts::Stored::of(&m, &super::alerts::Verdict::Plain);
        check(
            serde_json::to_string(&MessageRow::of(&m, &stored)).expect("ser"),
            MessageRow::COLUMNS,
        );
        check(
            serde_json::to_string(&DeliveryRow::of(&m, d)).expect("ser"),
            DeliveryRow::COLUMNS,
        );
        check(
            serde_json::to_string(&PartRow::of(&m, d, p)).expect("ser"),
            PartRow::COLUMNS,
        );
    }

    fn notify_test_message() -> crate::model::NewMessage {
        use crate::model::{LaneInfo, NewDelivery, NewMessage, NewPart};
        NewMessage {
            id: "msg_1".into(),
            tenant: "t".into(),
            caller: "c".into(),
            idempotency_key: Some("k".into()),
            body_hash: "h".into(),
            priority: 1,
            title: "title".into(),
            body: "{}".into(),
            response: "{}".into(),
            created_at: 1,
            not_before: None,
            expires_at: 2,
            deliveries: vec![NewDelivery {
                id: "dlv_1".into(),
                seq: 0,
                channel: "log".into(),
                // Decoded, since no crate's source but core's and channels' names a kind.
                kind: crate::stored::decode("deliveries.kind", "log").unwrap(),
                native_type: "text".into(),
                status: DeliveryStatus::Queued,
                truncated: false,
                context: "{}".into(),
                chat_key: None,
                escalation_step: None,
                due_at: None,
                expires_at: None,
                people: None,
                fallback: None,
                parts: vec![NewPart {
                    id: "prt_1".into(),
                    seq: 0,
                    op: notify_core::PartOp::Send,
                    lane: LaneInfo::new("log", "log", "send", "log"),
                    body: "{}".into(),
                    recipients: "[]".into(),
                    depends_on: None,
                }],
            }],
            ..Default::default()
        }
    }
}
