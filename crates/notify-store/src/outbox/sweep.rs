use std::collections::BTreeSet;

use crate::outbox::actions::one;
use crate::outbox::complete::expire_delivery;
use crate::outbox::roll_up::{roll_up, roll_up_messages};
use crate::outbox::Outbox;
use crate::StoreError;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Parts whose lease ran out, queued again.
    pub rescued: u64,
    /// Deliveries expired.
    pub expired: u64,
}

impl Outbox<'_> {
    /// Queues again every part whose lease ran out (its worker died or hung): the call may have
    /// reached upstream, so the part is flagged as a possible duplicate and the try counts.
    /// Then expires deliveries whose deadline passed before they could be sent.
    pub async fn sweep(self) -> Result<SweepReport, StoreError> {
        let now = self.store.now_ms();
        // Rescue in small batches of rows nobody else has locked, in id order: a sweep that
        // waited on a completion batch (or another replica's sweep) while holding other rows
        // deadlocked with it under load (RELIABILITY.md, finding 5).
        let lock = match self.store.dialect {
            crate::Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        let rescue = format!(
            "UPDATE parts SET status = 'queued', lease_owner = NULL, lease_token = NULL, \
             lease_until = NULL, possible_duplicate = 1, attempts = attempts + 1, \
             last_error = 'lease expired: worker lost', next_attempt_at = $1, updated_at = $1 \
             WHERE id IN (SELECT id FROM parts WHERE status = 'sending' AND lease_until < $1 \
                          ORDER BY id LIMIT 1000 {lock})"
        );
        let mut rescued = 0;
        loop {
            let n = sqlx::query(&rescue)
                .bind(now)
                .execute(&self.store.pool)
                .await?
                .rows_affected();
            rescued += n;
            if n < 1000 {
                break;
            }
        }

        let mut tx = self.store.begin_tx().await?;
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT delivery_id FROM parts \
             WHERE status IN ('queued', 'blocked') AND expires_at <= $1 AND op IN ('send', 'upload') \
             LIMIT 1000",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE status = 'awaiting_agent' AND expires_at <= $1 LIMIT 1000",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let touched: BTreeSet<String> = due.into_iter().chain(waiting).collect();
        // In id order: the order the roll-up locks them in.
        let mut fallback_due = false;
        for d in &touched {
            fallback_due |=
                expire_delivery(&mut tx, d, "expired before it could be sent", now).await?;
        }
        fallback_due |= roll_up(&mut tx, self.store.dialect, &touched, now).await?;
        tx.commit().await?;
        if rescued > 0 {
            self.store.wake.bump();
        }
        if fallback_due {
            self.store.fallback_wake.bump();
        }
        Ok(SweepReport {
            rescued,
            expired: touched.len() as u64,
        })
    }

    /// Deletes up to `batch` finished messages last changed before `before_ms` (retention), with
    /// their deliveries, parts and attempts. Small batches keep locks short; call until it
    /// returns 0.
    pub async fn purge_finished(self, before_ms: i64, batch: i64) -> Result<u64, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM messages WHERE status <> 'accepted' AND updated_at < $1 LIMIT $2",
        )
        .bind(before_ms)
        .bind(batch)
        .fetch_all(&self.store.pool)
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = crate::sql::list(ids.len(), 1);
        let mut tx = self.store.begin_tx().await?;
        for table_sql in [
            format!("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE message_id IN ({list}))"),
            // Through the deliveries, as for attempts: `parts` has no index on `message_id`.
            format!("DELETE FROM parts WHERE delivery_id IN (SELECT id FROM deliveries WHERE message_id IN ({list}))"),
            format!("DELETE FROM pending_fallbacks WHERE message_id IN ({list})"),
            format!("DELETE FROM deliveries WHERE message_id IN ({list})"),
            format!("DELETE FROM messages WHERE id IN ({list})"),
        ] {
            let mut q = sqlx::query(&table_sql);
            for id in &ids {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Recomputes a message's status (after a direct delivery change).
    pub(crate) async fn refresh_message(self, message_id: &str) -> Result<(), StoreError> {
        let mut tx = self.store.begin_tx().await?;
        roll_up_messages(
            &mut tx,
            self.store.dialect,
            &one(message_id),
            self.store.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
