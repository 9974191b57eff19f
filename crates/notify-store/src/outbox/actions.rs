//! Operations on a delivery that callers and admins start: recall, adding recall or state
//! calls, admin retry. (The Juzi sidebar's report of an agent's send is
//! [`crate::sidebar::Sidebar::record_agent_result`].)

use std::collections::BTreeSet;

use notify_core::{DeliveryStatus, PartOp, PartStatus};
use sqlx::Row;

use sqlx::{Any, Transaction};

use crate::model::{LaneInfo, NewPart};
use crate::outbox::roll_up::roll_up;
use crate::outbox::Outbox;
use crate::{stored, StoreError};

/// Where a delivery stood when its recall was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecallStart {
    /// Nothing had left: every call is cancelled and the delivery is `cancelled`.
    Cancelled,
    /// A call is in flight: the recall happens when it ends.
    Pending,
    /// Calls were sent: these `(part_id, upstream_id)` need recall calls (unsent ones are
    /// cancelled).
    Sent(Vec<(String, String)>),
    /// Already final in a way a recall cannot change (failed, expired, recalled…): the status.
    Final(DeliveryStatus),
}

impl Outbox<'_> {
    /// Starts the recall of one delivery: cancels what has not left, and says what was sent.
    pub async fn start_recall(self, delivery_id: &str) -> Result<RecallStart, StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM deliveries WHERE id = $1")
                .bind(delivery_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(status) = status else {
            return Err(StoreError::Corrupt(format!("no delivery {delivery_id}")));
        };
        let status: DeliveryStatus = stored::decode("deliveries.status", &status)?;
        use DeliveryStatus as D;
        if !matches!(status, D::Queued | D::Sending | D::Sent | D::AwaitingAgent) {
            return Ok(RecallStart::Final(status));
        }
        let rows = sqlx::query(
            "SELECT id, op, status, upstream_id FROM parts WHERE delivery_id = $1 ORDER BY seq",
        )
        .bind(delivery_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut sending = false;
        let mut sent = Vec::new();
        for r in &rows {
            let op: PartOp = stored::get(r, 1, "parts.op")?;
            if op != PartOp::Send {
                continue;
            }
            match stored::get(r, 2, "parts.status")? {
                PartStatus::Sending => sending = true,
                PartStatus::Done => {
                    let up: Option<String> = r.try_get(3)?;
                    if let Some(up) = up {
                        sent.push((r.try_get::<String, _>(0)?, up));
                    }
                }
                _ => {}
            }
        }
        let result = if sending {
            sqlx::query(
                "UPDATE deliveries SET recall_requested = 1, updated_at = $2 WHERE id = $1",
            )
            .bind(delivery_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            RecallStart::Pending
        } else {
            sqlx::query(
                "UPDATE parts SET status = 'cancelled', last_error = 'recalled before sending', \
                 updated_at = $2 WHERE delivery_id = $1 AND status IN ('queued', 'blocked')",
            )
            .bind(delivery_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // A delivery already `sent` with no upstream id to recall (a Juzi message an
            // agent sent, which has no parts) left for good: it is not cancelled but handed to
            // the caller as sent with nothing to recall (`not_recallable`).
            if sent.is_empty() && status != D::Sent {
                sqlx::query(
                    "UPDATE deliveries SET status = 'cancelled', updated_at = $2 WHERE id = $1",
                )
                .bind(delivery_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                RecallStart::Cancelled
            } else {
                RecallStart::Sent(sent)
            }
        };
        roll_up(&mut tx, self.store.dialect, &one(delivery_id), now).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// Adds calls (recalls, state updates) to an existing delivery, queued now and valid for
    /// `ttl_ms`.
    pub async fn append_parts(
        self,
        delivery_id: &str,
        parts: &[NewPart],
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        if parts.is_empty() {
            return Ok(());
        }
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        let lanes = insert_parts_in(&mut tx, delivery_id, parts, now + ttl_ms, now).await?;
        let new_lanes = self
            .store
            .register_lanes_in(&mut tx, lanes.into_iter())
            .await?;
        roll_up(&mut tx, self.store.dialect, &one(delivery_id), now).await?;
        tx.commit().await?;
        self.store.remember_lanes(new_lanes);
        self.store.announce().await;
        Ok(())
    }

    /// Sets a delivery's status directly (not recallable, cancelled…) and refreshes its
    /// message.
    pub async fn set_delivery_status(
        self,
        delivery_id: &str,
        status: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.store.now_ms();
        let message_id: String = sqlx::query_scalar(
            "UPDATE deliveries SET status = $2, last_error = COALESCE($3, last_error), updated_at = $4 \
             WHERE id = $1 RETURNING message_id",
        )
        .bind(delivery_id)
        .bind(status.as_str())
        .bind(error)
        .bind(now)
        .fetch_one(&self.store.pool)
        .await?;
        self.refresh_message(&message_id).await
    }

    /// Deliveries whose recall was asked for while a call was in flight and whose sends have
    /// since ended: `(delivery_id)`. The flag is cleared as they are returned.
    pub async fn take_pending_recalls(self) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM deliveries d WHERE recall_requested = 1 AND NOT EXISTS \
             (SELECT 1 FROM parts p WHERE p.delivery_id = d.id AND p.status = 'sending')",
        )
        .fetch_all(&self.store.pool)
        .await?;
        for id in &ids {
            sqlx::query("UPDATE deliveries SET recall_requested = 0 WHERE id = $1")
                .bind(id)
                .execute(&self.store.pool)
                .await?;
        }
        Ok(ids)
    }

    /// Admin retry of a failed or expired delivery: its unfinished sends are queued again with
    /// fresh attempts and a fresh deadline. Returns false when the delivery is in another state.
    pub async fn retry_delivery(self, delivery_id: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        let updated = sqlx::query(
            "UPDATE deliveries SET status = 'queued', last_error = NULL, expires_at = $2, updated_at = $3 \
             WHERE id = $1 AND status IN ('failed', 'expired')",
        )
        .bind(delivery_id)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE parts SET status = CASE WHEN depends_on IS NOT NULL AND dependency_id IS NULL \
                                            THEN 'blocked' ELSE 'queued' END, \
             attempts = 0, next_attempt_at = $2, expires_at = $3, updated_at = $2 \
             WHERE delivery_id = $1 AND op IN ('send', 'upload') AND status IN ('failed', 'cancelled')",
        )
        .bind(delivery_id)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *tx)
        .await?;
        roll_up(&mut tx, self.store.dialect, &one(delivery_id), now).await?;
        tx.commit().await?;
        self.store.announce().await;
        Ok(true)
    }
}

/// The set of one id, for the set-based roll-ups.
pub(crate) fn one(id: &str) -> BTreeSet<String> {
    BTreeSet::from([id.to_string()])
}

/// Adds `parts` to the delivery `delivery_id` inside `tx`, after its last part, queued at `now`
/// until `expires_at`. Returns their lanes, for the caller to register in the same
/// transaction ([`Store::register_lanes_in`]).
pub(crate) async fn insert_parts_in<'p>(
    tx: &mut Transaction<'static, Any>,
    delivery_id: &str,
    parts: &'p [NewPart],
    expires_at: i64,
    now: i64,
) -> Result<Vec<&'p LaneInfo>, StoreError> {
    let row = sqlx::query(
        "SELECT d.message_id, d.tenant, d.channel, m.priority, \
                (SELECT COALESCE(MAX(seq), 0) FROM parts WHERE delivery_id = d.id) \
         FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = $1",
    )
    .bind(delivery_id)
    .fetch_one(&mut **tx)
    .await?;
    let message_id: String = row.try_get(0)?;
    let tenant: String = row.try_get(1)?;
    let channel: String = row.try_get(2)?;
    let priority: i64 = row.try_get(3)?;
    let max_seq: i64 = row.try_get(4)?;
    let mut lanes = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        sqlx::query(
            "INSERT INTO parts (id, delivery_id, message_id, seq, op, lane, interface, channel, \
             tenant, priority, status, body, recipients, next_attempt_at, expires_at, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $13, $14, $13, $13)",
        )
        .bind(&p.id)
        .bind(delivery_id)
        .bind(&message_id)
        .bind(max_seq + 1 + i as i64)
        .bind(p.op.as_str())
        .bind(&p.lane.lane)
        .bind(&p.lane.interface)
        .bind(&channel)
        .bind(&tenant)
        .bind(priority)
        .bind(&p.body)
        .bind(&p.recipients)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        lanes.push(&p.lane);
    }
    Ok(lanes)
}
