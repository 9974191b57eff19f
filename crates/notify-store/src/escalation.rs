//! Escalation steps and acknowledgement (contract §7). A step is a delivery of its message
//! planned at ingress (`escalation_step` set, its parts queued until `due_at`), so the outbox's
//! claim and lease fire it once. Acknowledging (or resolving the alert) cancels the steps that
//! have not fired, in the transaction that records the acknowledgement (or the resolve).

use std::collections::BTreeSet;

use notify_core::PartStatus;
use sqlx::{Any, Row, Transaction};

use crate::model::NewPart;
use crate::outbox::actions::insert_parts_in;
use crate::outbox::roll_up::roll_up_messages;
use crate::{stored, Dialect, Store, StoreError};

/// The escalation role ([`Store::escalation`]): acknowledging a message (which cancels its
/// pending steps and appends its state calls) and cancelling pending steps. Used by
/// `notify-api` (`POST /v1/messages/{id}/ack` and the ack page).
#[derive(Debug, Clone, Copy)]
pub struct Escalation<'s> {
    pub(crate) store: &'s Store,
}

/// Why pending steps are cancelled: stored in `deliveries.cancel_reason`.
pub mod reason {
    /// The message (or its alert) was acknowledged.
    pub const ACKNOWLEDGED: &str = "acknowledged";
    /// The alert was resolved.
    pub const RESOLVED: &str = "resolved";
}

/// Whose pending steps to cancel.
#[derive(Debug, Clone, Copy)]
pub enum StepsOf<'a> {
    /// These messages'.
    Messages(&'a [String]),
    /// Every message of one alert (needs `messages.alert_key`, migration 0009).
    Alert {
        /// The alert's tenant.
        tenant: &'a str,
        /// The alert's key.
        key: &'a str,
    },
}

/// The statements that cancel one message's pending steps, for a transaction that is not a
/// [`sqlx::Any`] one (the Postgres batch writer): run [`PENDING_STEPS`] (bind the message id),
/// then per delivery [`STEP_PARTS`] (with `FOR UPDATE` on Postgres; bind the delivery id) and,
/// when every part is untouched, [`CANCEL_STEP_PARTS`] and [`CANCEL_STEP`] (bind the delivery
/// id, the reason, now).
pub const PENDING_STEPS: &str = "SELECT id FROM deliveries \
     WHERE message_id = $1 AND escalation_step IS NOT NULL AND status = 'queued' ORDER BY id";
/// See [`PENDING_STEPS`].
pub const STEP_PARTS: &str = "SELECT status, attempts FROM parts WHERE delivery_id = $1";
/// See [`PENDING_STEPS`].
pub const CANCEL_STEP_PARTS: &str = "UPDATE parts SET status = 'cancelled', last_error = $2, \
     updated_at = $3 WHERE delivery_id = $1 AND status IN ('queued', 'blocked')";
/// See [`PENDING_STEPS`].
pub const CANCEL_STEP: &str = "UPDATE deliveries SET status = 'cancelled', cancel_reason = $2, \
     updated_at = $3 WHERE id = $1 AND status = 'queued'";

/// Cancels, inside `tx`, every escalation step of `steps` that has not fired: a step delivery
/// still `queued` whose parts were never claimed or tried. Its parts and itself become
/// `cancelled` with `reason` ([`reason`]); the messages are rolled up again. Returns the
/// cancelled delivery ids. A step already claimed (in flight or sent) is left alone: it fired.
///
/// On Postgres the step's parts are locked first, so a replica claiming them at the same moment
/// either claimed them before (the step fired and is kept) or finds them cancelled.
pub async fn cancel_pending_steps(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    steps: StepsOf<'_>,
    reason: &str,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let messages: Vec<String> = match steps {
        StepsOf::Messages(ids) => ids.to_vec(),
        StepsOf::Alert { tenant, key } => {
            sqlx::query_scalar("SELECT id FROM messages WHERE tenant = $1 AND alert_key = $2")
                .bind(tenant)
                .bind(key)
                .fetch_all(&mut **tx)
                .await?
        }
    };
    let lock = match dialect {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let step_parts = format!("{STEP_PARTS}{lock}");
    let mut cancelled = Vec::new();
    let mut touched = BTreeSet::new();
    for message in &messages {
        let pending: Vec<String> = sqlx::query_scalar(PENDING_STEPS)
            .bind(message)
            .fetch_all(&mut **tx)
            .await?;
        let mut any = false;
        for delivery in pending {
            let parts = sqlx::query(&step_parts)
                .bind(&delivery)
                .fetch_all(&mut **tx)
                .await?;
            let mut untouched = true;
            for p in &parts {
                let status: PartStatus = stored::get(p, 0, "parts.status")?;
                let attempts: i64 = p.try_get(1)?;
                untouched &=
                    attempts == 0 && matches!(status, PartStatus::Queued | PartStatus::Blocked);
            }
            if !untouched {
                continue;
            }
            sqlx::query(CANCEL_STEP_PARTS)
                .bind(&delivery)
                .bind(reason)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            sqlx::query(CANCEL_STEP)
                .bind(&delivery)
                .bind(reason)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            cancelled.push(delivery);
            any = true;
        }
        if any {
            touched.insert(message.clone());
        }
    }
    roll_up_messages(tx, dialect, &touched, now).await?;
    Ok(cancelled)
}

/// Who acknowledged a message and when, and what this acknowledgement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// Who acknowledged first.
    pub by: String,
    /// When (unix ms).
    pub at: i64,
    /// False when the message had already been acknowledged (nothing was changed).
    pub first: bool,
    /// The step deliveries this acknowledgement cancelled.
    pub cancelled: Vec<String>,
}

/// State-update calls to append to one sent delivery when a message is acknowledged.
#[derive(Debug, Clone)]
pub struct StateCalls {
    /// `dlv_…`.
    pub delivery_id: String,
    /// The calls (planned by the channel's adapter).
    pub parts: Vec<NewPart>,
}

impl Escalation<'_> {
    /// [`cancel_pending_steps`] in a transaction of its own.
    pub async fn cancel_pending_steps(
        self,
        steps: StepsOf<'_>,
        reason: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.store.begin_tx().await?;
        let cancelled = cancel_pending_steps(
            &mut tx,
            self.store.dialect,
            steps,
            reason,
            self.store.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    /// Acknowledges message `message_id` as `by`, in one transaction: records who and when on
    /// the message (and on its alert), cancels its pending escalation steps (reason
    /// `acknowledged`), and appends `state` (the yellow `已处理` / `processed` updates of its
    /// WeLink cards), valid for `ttl_ms`. A second acknowledgement changes nothing and returns
    /// the first one's who and when. `None` when the message does not exist.
    pub async fn acknowledge(
        self,
        message_id: &str,
        by: &str,
        state: &[StateCalls],
        ttl_ms: i64,
    ) -> Result<Option<Acknowledgement>, StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        let first = sqlx::query(
            "UPDATE messages SET acknowledged_by = $2, acknowledged_at = $3 \
             WHERE id = $1 AND acknowledged_at IS NULL",
        )
        .bind(message_id)
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !first {
            let row =
                sqlx::query("SELECT acknowledged_by, acknowledged_at FROM messages WHERE id = $1")
                    .bind(message_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.rollback().await?;
            let Some(row) = row else { return Ok(None) };
            return Ok(Some(Acknowledgement {
                by: row.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
                at: row.try_get::<Option<i64>, _>(1)?.unwrap_or_default(),
                first: false,
                cancelled: Vec::new(),
            }));
        }
        // Acknowledging one message of an alert acknowledges the alert: every message of it
        // stops escalating.
        let alert = acknowledge_alert(&mut tx, message_id, by, now).await?;
        let ids = [message_id.to_string()];
        let steps = match &alert {
            Some((tenant, key)) => StepsOf::Alert { tenant, key },
            None => StepsOf::Messages(&ids),
        };
        let cancelled = cancel_pending_steps(
            &mut tx,
            self.store.dialect,
            steps,
            reason::ACKNOWLEDGED,
            now,
        )
        .await?;
        let mut lanes = Vec::new();
        for calls in state {
            lanes.extend(
                insert_parts_in(&mut tx, &calls.delivery_id, &calls.parts, now + ttl_ms, now)
                    .await?,
            );
        }
        let new_lanes = self
            .store
            .register_lanes_in(&mut tx, lanes.into_iter())
            .await?;
        tx.commit().await?;
        self.store.remember_lanes(new_lanes);
        if state.iter().any(|c| !c.parts.is_empty()) {
            self.store.announce().await;
        }
        Ok(Some(Acknowledgement {
            by: by.to_string(),
            at: now,
            first: true,
            cancelled,
        }))
    }
}

/// Records the acknowledgement on the message's alert, when it has one (the first
/// acknowledgement of the alert wins), and returns the alert's tenant and key.
async fn acknowledge_alert(
    tx: &mut Transaction<'static, Any>,
    message_id: &str,
    by: &str,
    now: i64,
) -> Result<Option<(String, String)>, StoreError> {
    let row = sqlx::query("SELECT tenant, alert_key FROM messages WHERE id = $1")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let tenant: String = row.try_get(0)?;
    let Some(key) = row.try_get::<Option<String>, _>(1)? else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE alerts SET acknowledged_by = $3, acknowledged_at = $4 \
         WHERE tenant = $1 AND alert_key = $2 AND acknowledged_at IS NULL",
    )
    .bind(&tenant)
    .bind(&key)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Some((tenant, key)))
}
