//! Fenced completion of claimed parts, set-based: a batch of completions (the dispatcher sends
//! up to 256) is one transaction of a fixed number of statements whatever its size — one read
//! of its parts, one insert of its attempts, one update per kind of result, one of the parts
//! its sends unblocked, then the roll-up ([`super::roll_up`]). Every row set travels as one
//! JSON parameter (`sqlx::Any` binds no arrays), so no bind limit applies and each statement's
//! text is the same for every batch size.
//!
//! Results that are rare in practice stay per row, after the set-based ones: a re-upload (an
//! expired WeCom media id), a resend to fewer recipients, refused recipients, a delivery
//! expiring, a fallback becoming due. Expiring comes last, so it also cancels what this batch
//! queued again for the same delivery.
//!
//! Tables are written in one order — parts, then deliveries, then messages — and on Postgres
//! each table's rows are locked in id order before they are written, as the sweeper, lease
//! renewal and the roll-ups do: two transactions never wait on each other in a cycle.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use notify_core::{DeliveryStatus, FailedRecipient};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::model::{AttemptRecord, Completion, PartResult};
use crate::outbox::fallback::note_final;
use crate::outbox::roll_up::{lock_deliveries, roll_up};
use crate::outbox::Outbox;
use crate::sql::{in_ids, json, json_rows, keyed_by, names};
use crate::{Dialect, StoreError};

impl Outbox<'_> {
    /// Applies the results of many finished parts in one transaction. Each is fenced by its
    /// lease token: a worker whose lease was taken over changes nothing (its attempt is still
    /// logged, since the call happened). Returns, per completion, whether it was applied.
    pub async fn complete(self, batch: &[Completion]) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.store.now_ms();
        let dialect = self.store.dialect;
        let mut tx = self.store.begin_tx().await?;
        let parts = lock_parts(&mut tx, dialect, batch).await?;
        // Part-id order (stable, so the caller's among completions of one part): the order
        // attempts are logged and the rare per-row results applied, as before this was
        // set-based. `applied` keeps the caller's order.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|a, b| batch[*a].part_id.cmp(&batch[*b].part_id));
        let mut applied = vec![false; batch.len()];
        let mut plan = Plan::default();
        let mut taken = HashSet::new();
        for &index in &order {
            let c = &batch[index];
            let Some(part) = parts.get(&c.part_id) else {
                continue;
            };
            if let Some(a) = &c.attempt {
                plan.attempts.push(AttemptRow::of(c, &part.delivery_id, a));
            }
            // One completion per part at most: the first leaves `sending`.
            if part.status != "sending"
                || part.lease_token.as_deref() != Some(c.lease_token.as_str())
                || !taken.insert(c.part_id.as_str())
            {
                continue;
            }
            plan.add(c, part);
            applied[index] = true;
        }
        let (requeued, fallback_due) = plan.apply(&mut tx, dialect, now).await?;
        tx.commit().await?;
        if requeued {
            self.store.wake.bump();
        }
        if fallback_due {
            self.store.fallback_wake.bump();
        }
        Ok(applied)
    }
}

/// A part named by a completion, as it stands once locked.
struct LockedPart {
    delivery_id: String,
    seq: i64,
    depends_on: Option<i64>,
    status: String,
    lease_token: Option<String>,
}

/// Reads the batch's parts; on Postgres locks them, in part-id order, the order the sweeper
/// and lease renewal take too, so none of them deadlocks with a completion batch.
async fn lock_parts(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    batch: &[Completion],
) -> Result<HashMap<String, LockedPart>, StoreError> {
    let ids: BTreeSet<&str> = batch.iter().map(|c| c.part_id.as_str()).collect();
    let lock = match dialect {
        Dialect::Postgres => " ORDER BY id FOR NO KEY UPDATE",
        Dialect::Sqlite => "",
    };
    sqlx::query(&format!(
        "SELECT id, delivery_id, seq, depends_on, status, lease_token FROM parts WHERE {}{lock}",
        in_ids(dialect, "id", 1)
    ))
    .bind(json(&ids)?)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get(0)?,
            LockedPart {
                delivery_id: r.try_get(1)?,
                seq: r.try_get(2)?,
                depends_on: r.try_get(3)?,
                status: r.try_get(4)?,
                lease_token: r.try_get(5)?,
            },
        ))
    })
    .collect()
}

/// An `attempts` row.
#[derive(Serialize)]
struct AttemptRow<'a> {
    part_id: &'a str,
    delivery_id: &'a str,
    at: i64,
    endpoint: &'a str,
    http_status: Option<i64>,
    upstream_code: Option<&'a str>,
    upstream_message: Option<&'a str>,
    duration_ms: i64,
    outcome: &'a str,
    possible_duplicate: i64,
}

impl<'a> AttemptRow<'a> {
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("part_id", "text"),
        ("delivery_id", "text"),
        ("at", "bigint"),
        ("endpoint", "text"),
        ("http_status", "bigint"),
        ("upstream_code", "text"),
        ("upstream_message", "text"),
        ("duration_ms", "bigint"),
        ("outcome", "text"),
        ("possible_duplicate", "bigint"),
    ];

    fn of(c: &'a Completion, delivery_id: &'a str, a: &'a AttemptRecord) -> Self {
        Self {
            part_id: &c.part_id,
            delivery_id,
            at: a.at,
            endpoint: &a.endpoint,
            http_status: a.http_status,
            upstream_code: a.upstream_code.as_deref(),
            upstream_message: a.upstream_message.as_deref(),
            duration_ms: a.duration_ms,
            outcome: &a.outcome,
            possible_duplicate: i64::from(a.possible_duplicate),
        }
    }
}

/// A part sent: its upstream id, and where its followers are (`depends_on` = its seq).
#[derive(Serialize)]
struct DoneRow<'a> {
    id: &'a str,
    upstream_id: Option<&'a str>,
    delivery_id: &'a str,
    seq: i64,
}

impl DoneRow<'_> {
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("id", "text"),
        ("upstream_id", "text"),
        ("delivery_id", "text"),
        ("seq", "bigint"),
    ];
}

/// A part back to the queue.
#[derive(Serialize)]
struct RetryRow<'a> {
    id: &'a str,
    at_ms: i64,
    spend: i64,
    error: &'a str,
    duplicate: i64,
}

impl RetryRow<'_> {
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("id", "text"),
        ("at_ms", "bigint"),
        ("spend", "bigint"),
        ("error", "text"),
        ("duplicate", "bigint"),
    ];
}

/// A row and the error it ends with (a failed or expired part, a failed delivery).
#[derive(Serialize)]
struct ErrorRow<'a> {
    id: &'a str,
    error: &'a str,
}

impl ErrorRow<'_> {
    const COLUMNS: &'static [(&'static str, &'static str)] = &[("id", "text"), ("error", "text")];
}

/// A result applied one row at a time (rare in practice), in part-id order.
enum Rare<'a> {
    Resend(&'a Completion),
    Reupload(&'a Completion, &'a LockedPart, &'a str),
    RefusedRecipients(&'a str, &'a [FailedRecipient]),
}

/// The writes of one batch, gathered by kind before any is made.
#[derive(Default)]
struct Plan<'a> {
    attempts: Vec<AttemptRow<'a>>,
    done: Vec<DoneRow<'a>>,
    retry: Vec<RetryRow<'a>>,
    failed: Vec<ErrorRow<'a>>,
    expired: Vec<ErrorRow<'a>>,
    /// Failed deliveries' last error: a later part's (in part-id order) wins, as before.
    failed_deliveries: BTreeMap<&'a str, &'a str>,
    /// Expiring deliveries: the first expired part's error.
    expiring: BTreeMap<&'a str, &'a str>,
    rare: Vec<Rare<'a>>,
    /// Every delivery of an applied completion, rolled up at the end.
    touched: BTreeSet<String>,
    /// Some delivery rows are written before the roll-up (not only by it).
    writes_deliveries: bool,
}

impl<'a> Plan<'a> {
    fn add(&mut self, c: &'a Completion, part: &'a LockedPart) {
        let delivery_id = part.delivery_id.as_str();
        match &c.result {
            PartResult::Done {
                upstream_id,
                failed_recipients,
            } => {
                self.done.push(DoneRow {
                    id: &c.part_id,
                    upstream_id: upstream_id.as_deref(),
                    delivery_id,
                    seq: part.seq,
                });
                if !failed_recipients.is_empty() {
                    self.rare
                        .push(Rare::RefusedRecipients(delivery_id, failed_recipients));
                    self.writes_deliveries = true;
                }
            }
            PartResult::Retry {
                at_ms,
                spend_attempt,
                error,
                possible_duplicate,
            } => self.retry.push(RetryRow {
                id: &c.part_id,
                at_ms: *at_ms,
                spend: i64::from(*spend_attempt),
                error,
                duplicate: i64::from(*possible_duplicate),
            }),
            PartResult::Resend {
                failed_recipients, ..
            } => {
                self.rare.push(Rare::Resend(c));
                if !failed_recipients.is_empty() {
                    self.rare
                        .push(Rare::RefusedRecipients(delivery_id, failed_recipients));
                    self.writes_deliveries = true;
                }
            }
            PartResult::Reupload { error } => self.rare.push(Rare::Reupload(c, part, error)),
            PartResult::Failed { error } => {
                self.failed.push(ErrorRow {
                    id: &c.part_id,
                    error,
                });
                self.failed_deliveries.insert(delivery_id, error);
                self.writes_deliveries = true;
            }
            PartResult::Expired { error } => {
                self.expired.push(ErrorRow {
                    id: &c.part_id,
                    error,
                });
                self.expiring.entry(delivery_id).or_insert(error);
                self.writes_deliveries = true;
            }
        }
        self.touched.insert(part.delivery_id.clone());
    }

    /// Makes the writes. Returns (parts were queued again, a fallback became due).
    async fn apply(
        self,
        tx: &mut Transaction<'static, Any>,
        dialect: Dialect,
        now: i64,
    ) -> Result<(bool, bool), StoreError> {
        let rows = |alias: &str, cols: &[(&str, &str)]| json_rows(dialect, 1, alias, cols);
        let by_part_id = keyed_by(dialect, "parts.id", 1, "id");
        if !self.attempts.is_empty() {
            let cols = AttemptRow::COLUMNS;
            let sql = format!(
                "INSERT INTO attempts ({names}) SELECT {names} FROM {}",
                rows("a", cols),
                names = names(cols)
            );
            sqlx::query(&sql)
                .bind(json(&self.attempts)?)
                .execute(&mut **tx)
                .await?;
        }
        // The rows below were read under their lock with this lease token: they are updated
        // by id alone.
        const RELEASE: &str = "lease_owner = NULL, lease_token = NULL, lease_until = NULL";
        let mut requeued = false;
        if !self.done.is_empty() {
            let done = json(&self.done)?;
            let u = rows("u", DoneRow::COLUMNS);
            exec(
                tx,
                &format!(
                    "UPDATE parts SET status = 'done', upstream_id = u.upstream_id, \
                     attempts = parts.attempts + 1, {RELEASE}, updated_at = $2 \
                     FROM {u} WHERE parts.id = u.id{by_part_id}"
                ),
                &done,
                now,
            )
            .await?;
            // The parts that waited for these (a send for its upload) are due now.
            let unblocked = exec(
                tx,
                &format!(
                    "UPDATE parts SET status = 'queued', dependency_id = u.upstream_id, \
                     next_attempt_at = $2, updated_at = $2 FROM {u} \
                     WHERE parts.delivery_id = u.delivery_id AND parts.depends_on = u.seq \
                       AND parts.status = 'blocked'{}",
                    keyed_by(dialect, "parts.delivery_id", 1, "delivery_id")
                ),
                &done,
                now,
            )
            .await?;
            requeued |= unblocked > 0;
        }
        if !self.retry.is_empty() {
            exec(
                tx,
                &format!(
                    "UPDATE parts SET status = 'queued', next_attempt_at = u.at_ms, \
                     attempts = parts.attempts + u.spend, last_error = u.error, \
                     possible_duplicate = CASE WHEN u.duplicate = 1 THEN 1 \
                                               ELSE parts.possible_duplicate END, \
                     {RELEASE}, updated_at = $2 FROM {} WHERE parts.id = u.id{by_part_id}",
                    rows("u", RetryRow::COLUMNS)
                ),
                &json(&self.retry)?,
                now,
            )
            .await?;
            requeued = true;
        }
        if !self.failed.is_empty() {
            exec(
                tx,
                &format!(
                    "UPDATE parts SET status = 'failed', last_error = u.error, \
                     attempts = parts.attempts + 1, {RELEASE}, updated_at = $2 \
                     FROM {} WHERE parts.id = u.id{by_part_id}",
                    rows("u", ErrorRow::COLUMNS)
                ),
                &json(&self.failed)?,
                now,
            )
            .await?;
        }
        if !self.expired.is_empty() {
            exec(
                tx,
                &format!(
                    "UPDATE parts SET status = 'cancelled', last_error = u.error, {RELEASE}, \
                     updated_at = $2 FROM {} WHERE parts.id = u.id{by_part_id}",
                    rows("u", ErrorRow::COLUMNS)
                ),
                &json(&self.expired)?,
                now,
            )
            .await?;
        }
        for r in &self.rare {
            match r {
                Rare::Resend(c) => resend(tx, c, now).await?,
                Rare::Reupload(c, part, error) => {
                    reupload(tx, c, &part.delivery_id, part.depends_on, error, now).await?
                }
                Rare::RefusedRecipients(..) => continue,
            }
            requeued = true;
        }
        // Last among the parts' writes, so it also cancels what this batch queued again.
        for (delivery_id, error) in &self.expiring {
            expire_unsent_parts(tx, delivery_id, error, now).await?;
        }
        // Every part is written: now the deliveries, locked first in one order.
        if self.writes_deliveries {
            lock_deliveries(tx, dialect, &self.touched).await?;
        }
        if !self.failed_deliveries.is_empty() {
            let failed: Vec<ErrorRow> = self
                .failed_deliveries
                .iter()
                .map(|(id, error)| ErrorRow { id, error })
                .collect();
            exec(
                tx,
                &format!(
                    "UPDATE deliveries SET last_error = u.error, updated_at = $2 \
                     FROM {} WHERE deliveries.id = u.id{}",
                    rows("u", ErrorRow::COLUMNS),
                    keyed_by(dialect, "deliveries.id", 1, "id")
                ),
                &json(&failed)?,
                now,
            )
            .await?;
        }
        for r in &self.rare {
            if let Rare::RefusedRecipients(delivery_id, failed) = r {
                add_failed_recipients(tx, delivery_id, failed, now).await?;
            }
        }
        let mut fallback_due = false;
        for (delivery_id, error) in &self.expiring {
            fallback_due |= expire_delivery_row(tx, delivery_id, error, now).await?;
        }
        fallback_due |= roll_up(tx, dialect, &self.touched, now).await?;
        Ok((requeued, fallback_due))
    }
}

/// Runs a set-based statement over the rows in `rows` (`$1`) at `now` (`$2`).
async fn exec(
    tx: &mut Transaction<'static, Any>,
    sql: &str,
    rows: &str,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql)
        .bind(rows)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Queues a part again at once with a new body and fewer recipients (the others were refused
/// for good).
async fn resend(
    tx: &mut Transaction<'static, Any>,
    c: &Completion,
    now: i64,
) -> Result<(), StoreError> {
    let PartResult::Resend {
        body, recipients, ..
    } = &c.result
    else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE parts SET status = 'queued', next_attempt_at = $5, body = $3, \
         recipients = $4, attempts = attempts + 1, lease_owner = NULL, \
         lease_token = NULL, lease_until = NULL, updated_at = $5 \
         WHERE id = $1 AND lease_token = $2",
    )
    .bind(&c.part_id)
    .bind(&c.lease_token)
    .bind(body.to_string())
    .bind(serde_json::to_string(recipients).unwrap_or_default())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_failed_recipients(
    tx: &mut Transaction<'static, Any>,
    delivery_id: &str,
    failed: &[FailedRecipient],
    now: i64,
) -> Result<(), StoreError> {
    if failed.is_empty() {
        return Ok(());
    }
    let current: String =
        sqlx::query_scalar("SELECT failed_recipients FROM deliveries WHERE id = $1")
            .bind(delivery_id)
            .fetch_one(&mut **tx)
            .await?;
    let mut list: Vec<FailedRecipient> = serde_json::from_str(&current).unwrap_or_default();
    for f in failed {
        if !list.iter().any(|x| x.recipient == f.recipient) {
            list.push(f.clone());
        }
    }
    sqlx::query("UPDATE deliveries SET failed_recipients = $2, updated_at = $3 WHERE id = $1")
        .bind(delivery_id)
        .bind(serde_json::to_string(&list).unwrap_or_default())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// WeCom `40007`: the send's media id expired. A fresh copy of the upload it depended on is
/// queued, and the send waits for it again (contract §4: the one case where a finished call is
/// repeated).
async fn reupload(
    tx: &mut Transaction<'static, Any>,
    c: &Completion,
    delivery_id: &str,
    depends_on: Option<i64>,
    error: &str,
    now: i64,
) -> Result<(), StoreError> {
    let Some(dep) = depends_on else {
        return Err(StoreError::Corrupt(format!(
            "part {} asked for a re-upload but depends on nothing",
            c.part_id
        )));
    };
    let next_seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM parts WHERE delivery_id = $1")
            .bind(delivery_id)
            .fetch_one(&mut **tx)
            .await?;
    let new_id = notify_core::PartId::new_at(now).0;
    sqlx::query(
        "INSERT INTO parts (id, delivery_id, message_id, seq, op, lane, interface, channel, tenant, \
         priority, status, body, recipients, next_attempt_at, expires_at, created_at, updated_at) \
         SELECT $1, delivery_id, message_id, $2, op, lane, interface, channel, tenant, priority, \
                'queued', body, recipients, $3, expires_at, $3, $3 \
         FROM parts WHERE delivery_id = $4 AND seq = $5",
    )
    .bind(&new_id)
    .bind(next_seq)
    .bind(now)
    .bind(delivery_id)
    .bind(dep)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE parts SET status = 'blocked', depends_on = $3, dependency_id = NULL, \
         attempts = attempts + 1, last_error = $4, lease_owner = NULL, lease_token = NULL, \
         lease_until = NULL, updated_at = $5 WHERE id = $1 AND lease_token = $2",
    )
    .bind(&c.part_id)
    .bind(&c.lease_token)
    .bind(next_seq)
    .bind(error)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Expires a delivery's unsent calls and the delivery. Returns true when this made a fallback
/// due (see `outbox::fallback`).
pub(crate) async fn expire_delivery(
    tx: &mut Transaction<'static, Any>,
    delivery_id: &str,
    error: &str,
    now: i64,
) -> Result<bool, StoreError> {
    expire_unsent_parts(tx, delivery_id, error, now).await?;
    expire_delivery_row(tx, delivery_id, error, now).await
}

/// Cancels the calls of an expiring delivery that have not left. The parts' half of
/// [`expire_delivery`], for a transaction that writes every part before any delivery.
async fn expire_unsent_parts(
    tx: &mut Transaction<'static, Any>,
    delivery_id: &str,
    error: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE parts SET status = 'cancelled', last_error = $2, updated_at = $3 \
         WHERE delivery_id = $1 AND status IN ('queued', 'blocked') AND op IN ('send', 'upload')",
    )
    .bind(delivery_id)
    .bind(error)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The delivery's half of [`expire_delivery`]. Returns true when this made a fallback due.
async fn expire_delivery_row(
    tx: &mut Transaction<'static, Any>,
    delivery_id: &str,
    error: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let expired = sqlx::query(
        "UPDATE deliveries SET status = 'expired', last_error = $2, updated_at = $3 \
         WHERE id = $1 AND status IN ('queued', 'sending', 'awaiting_agent')",
    )
    .bind(delivery_id)
    .bind(error)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if expired == 0 {
        return Ok(false);
    }
    note_final(tx, delivery_id, DeliveryStatus::Expired, now).await
}
