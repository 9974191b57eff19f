use std::collections::BTreeSet;

use notify_core::{DeliveryStatus, FailedRecipient, MessageStatus, PartOp, PartStatus};
use sqlx::{Any, Row, Transaction};

use crate::model::{AttemptRecord, Completion, PartResult};
use crate::outbox::fallback::note_final;
use crate::{Store, StoreError};

impl Store {
    /// Applies the results of many finished parts in one transaction. Each is fenced by its
    /// lease token: a worker whose lease was taken over changes nothing (its attempt is still
    /// logged, since the call happened). Returns, per completion, whether it was applied.
    pub async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let mut tx = self.begin_tx().await?;
        let mut touched = BTreeSet::new();
        let mut requeued = false;
        let mut fallback_due = false;
        // Rows are locked in part-id order, the same order the sweeper takes, so a completion
        // batch and a sweep cannot deadlock each other; `applied` keeps the caller's order.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|a, b| batch[*a].part_id.cmp(&batch[*b].part_id));
        let mut applied_at = vec![false; batch.len()];
        for &index in &order {
            let c = &batch[index];
            let row = sqlx::query(
                "SELECT delivery_id, seq, depends_on FROM parts \
                 WHERE id = $1 AND lease_token = $2 AND status = 'sending'",
            )
            .bind(&c.part_id)
            .bind(&c.lease_token)
            .fetch_optional(&mut *tx)
            .await?;
            let delivery_id: Option<String> = match &row {
                Some(r) => Some(r.try_get(0)?),
                None => {
                    sqlx::query_scalar("SELECT delivery_id FROM parts WHERE id = $1")
                        .bind(&c.part_id)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            if let (Some(a), Some(d)) = (&c.attempt, &delivery_id) {
                insert_attempt(&mut tx, &c.part_id, d, a).await?;
            }
            let Some(row) = row else {
                applied_at[index] = false;
                continue;
            };
            let delivery_id: String = row.try_get(0)?;
            let seq: i64 = row.try_get(1)?;
            match &c.result {
                PartResult::Done {
                    upstream_id,
                    failed_recipients,
                } => {
                    fenced(
                        &mut tx,
                        "UPDATE parts SET status = 'done', upstream_id = $3, attempts = attempts + 1, \
                         lease_owner = NULL, lease_token = NULL, lease_until = NULL, updated_at = $4 \
                         WHERE id = $1 AND lease_token = $2",
                        c,
                        |q| q.bind(upstream_id.clone()).bind(now),
                    )
                    .await?;
                    let unblocked = sqlx::query(
                        "UPDATE parts SET status = 'queued', dependency_id = $3, next_attempt_at = $4, \
                         updated_at = $4 WHERE delivery_id = $1 AND depends_on = $2 AND status = 'blocked'",
                    )
                    .bind(&delivery_id)
                    .bind(seq)
                    .bind(upstream_id.clone())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    requeued |= unblocked.rows_affected() > 0;
                    add_failed_recipients(&mut tx, &delivery_id, failed_recipients, now).await?;
                }
                PartResult::Retry {
                    at_ms,
                    spend_attempt,
                    error,
                    possible_duplicate,
                } => {
                    fenced(
                        &mut tx,
                        "UPDATE parts SET status = 'queued', next_attempt_at = $3, \
                         attempts = attempts + $4, last_error = $5, \
                         possible_duplicate = CASE WHEN $6 = 1 THEN 1 ELSE possible_duplicate END, \
                         lease_owner = NULL, lease_token = NULL, lease_until = NULL, updated_at = $7 \
                         WHERE id = $1 AND lease_token = $2",
                        c,
                        |q| {
                            q.bind(*at_ms)
                                .bind(i64::from(*spend_attempt))
                                .bind(error.clone())
                                .bind(i64::from(*possible_duplicate))
                                .bind(now)
                        },
                    )
                    .await?;
                    requeued = true;
                }
                PartResult::Resend {
                    body,
                    recipients,
                    failed_recipients,
                } => {
                    let body = body.to_string();
                    let recipients = serde_json::to_string(recipients).unwrap_or_default();
                    fenced(
                        &mut tx,
                        "UPDATE parts SET status = 'queued', next_attempt_at = $5, body = $3, \
                         recipients = $4, attempts = attempts + 1, lease_owner = NULL, \
                         lease_token = NULL, lease_until = NULL, updated_at = $5 \
                         WHERE id = $1 AND lease_token = $2",
                        c,
                        |q| q.bind(body).bind(recipients).bind(now),
                    )
                    .await?;
                    add_failed_recipients(&mut tx, &delivery_id, failed_recipients, now).await?;
                    requeued = true;
                }
                PartResult::Reupload { error } => {
                    reupload(&mut tx, c, &delivery_id, row.try_get(2)?, error, now).await?;
                    requeued = true;
                }
                PartResult::Failed { error } => {
                    fenced(
                        &mut tx,
                        "UPDATE parts SET status = 'failed', last_error = $3, attempts = attempts + 1, \
                         lease_owner = NULL, lease_token = NULL, lease_until = NULL, updated_at = $4 \
                         WHERE id = $1 AND lease_token = $2",
                        c,
                        |q| q.bind(error.clone()).bind(now),
                    )
                    .await?;
                    sqlx::query(
                        "UPDATE deliveries SET last_error = $2, updated_at = $3 WHERE id = $1",
                    )
                    .bind(&delivery_id)
                    .bind(error)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                PartResult::Expired { error } => {
                    fenced(
                        &mut tx,
                        "UPDATE parts SET status = 'cancelled', last_error = $3, lease_owner = NULL, \
                         lease_token = NULL, lease_until = NULL, updated_at = $4 \
                         WHERE id = $1 AND lease_token = $2",
                        c,
                        |q| q.bind(error.clone()).bind(now),
                    )
                    .await?;
                    fallback_due |= expire_delivery(&mut tx, &delivery_id, error, now).await?;
                }
            }
            touched.insert(delivery_id);
            applied_at[index] = true;
        }
        fallback_due |= roll_up(&mut tx, touched.iter(), now).await?;
        tx.commit().await?;
        if requeued {
            self.wake.bump();
        }
        if fallback_due {
            self.fallback_wake.bump();
        }
        Ok(applied_at)
    }
}

async fn fenced<'a, F>(
    tx: &mut Transaction<'static, Any>,
    sql: &'a str,
    c: &'a Completion,
    bind: F,
) -> Result<(), StoreError>
where
    F: FnOnce(
        sqlx::query::Query<'a, Any, sqlx::any::AnyArguments<'a>>,
    ) -> sqlx::query::Query<'a, Any, sqlx::any::AnyArguments<'a>>,
{
    let q = sqlx::query(sql).bind(&c.part_id).bind(&c.lease_token);
    bind(q).execute(&mut **tx).await?;
    Ok(())
}

pub(crate) async fn insert_attempt(
    tx: &mut Transaction<'static, Any>,
    part_id: &str,
    delivery_id: &str,
    a: &AttemptRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO attempts (part_id, delivery_id, at, endpoint, http_status, upstream_code, \
         upstream_message, duration_ms, outcome, possible_duplicate) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(part_id)
    .bind(delivery_id)
    .bind(a.at)
    .bind(&a.endpoint)
    .bind(a.http_status)
    .bind(&a.upstream_code)
    .bind(&a.upstream_message)
    .bind(a.duration_ms)
    .bind(&a.outcome)
    .bind(i64::from(a.possible_duplicate))
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
    sqlx::query(
        "UPDATE parts SET status = 'cancelled', last_error = $2, updated_at = $3 \
         WHERE delivery_id = $1 AND status IN ('queued', 'blocked') AND op IN ('send', 'upload')",
    )
    .bind(delivery_id)
    .bind(error)
    .bind(now)
    .execute(&mut **tx)
    .await?;
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

/// Recomputes the status of each delivery in `deliveries` from its parts, then of their
/// messages from their deliveries. Returns true when a delivery's new status made its fallback
/// due (a pending-fallback row was written in `tx`).
pub(crate) async fn roll_up<'a>(
    tx: &mut Transaction<'static, Any>,
    deliveries: impl Iterator<Item = &'a String>,
    now: i64,
) -> Result<bool, StoreError> {
    let mut messages = BTreeSet::new();
    let mut fallback_due = false;
    for d in deliveries {
        let row = sqlx::query("SELECT status, message_id, fallback FROM deliveries WHERE id = $1")
            .bind(d)
            .fetch_one(&mut **tx)
            .await?;
        let current: String = row.try_get(0)?;
        let message_id: String = row.try_get(1)?;
        let has_fallback = row.try_get::<Option<String>, _>(2)?.is_some();
        let current = DeliveryStatus::parse(&current)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {current:?}")))?;
        let parts: Vec<(PartOp, PartStatus)> =
            sqlx::query("SELECT op, status FROM parts WHERE delivery_id = $1")
                .bind(d)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .filter_map(|r| {
                    let op: String = r.try_get(0).ok()?;
                    let st: String = r.try_get(1).ok()?;
                    Some((PartOp::parse(&op)?, PartStatus::parse(&st)?))
                })
                .collect();
        let next = crate::rollup::delivery_status(current, &parts);
        if next != current {
            sqlx::query("UPDATE deliveries SET status = $2, updated_at = $3 WHERE id = $1")
                .bind(d)
                .bind(next.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
            if has_fallback {
                fallback_due |= note_final(tx, d, next, now).await?;
            }
        }
        messages.insert(message_id);
    }
    for m in messages {
        roll_up_message(tx, &m, now).await?;
    }
    Ok(fallback_due)
}

pub(crate) async fn roll_up_message(
    tx: &mut Transaction<'static, Any>,
    message_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    // An escalation step cancelled because the alert was acknowledged or resolved never had to
    // go out: it does not count (the message is `sent` when its own targets were). A step still
    // pending keeps the message `accepted` until it fires or is cancelled.
    // A delivery waiting for its fallback is not final yet; one that failed or expired and has
    // a fallback delivery counts through that delivery alone (it stands in for it).
    let rows = sqlx::query(
        "SELECT d.status, \
                (SELECT COUNT(*) FROM pending_fallbacks p WHERE p.delivery_id = d.id), \
                (SELECT COUNT(*) FROM deliveries f \
                 WHERE f.message_id = d.message_id AND f.fallback_of = d.id) \
         FROM deliveries d WHERE d.message_id = $1 \
           AND NOT (d.escalation_step IS NOT NULL AND d.status = 'cancelled' \
                    AND d.cancel_reason IS NOT NULL)",
    )
    .bind(message_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut statuses = Vec::with_capacity(rows.len());
    let mut waiting = false;
    for r in &rows {
        let status: String = r.try_get(0)?;
        let pending: i64 = r.try_get(1)?;
        let replaced: i64 = r.try_get(2)?;
        let Some(status) = DeliveryStatus::parse(&status) else {
            continue;
        };
        waiting |= pending > 0;
        if replaced > 0 && matches!(status, DeliveryStatus::Failed | DeliveryStatus::Expired) {
            continue;
        }
        statuses.push(status);
    }
    let status = if waiting {
        MessageStatus::Accepted
    } else {
        MessageStatus::of(&statuses)
    };
    sqlx::query("UPDATE messages SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2")
        .bind(message_id)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
