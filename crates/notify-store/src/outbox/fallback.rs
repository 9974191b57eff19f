//! Fallback deliveries (contract §7). A delivery that carries a resolved fallback and ends
//! `failed` or `expired`, or `sent` with refused recipients who are directory people, gets a
//! `pending_fallbacks` row in the transaction that gives it that status. The fallback loop
//! (notify-api, where the channel adapters are) plans the fallback delivery and
//! [`Outbox::insert_fallback`] adds it and deletes the row in one transaction: exactly once,
//! whichever replica gets there first, and again after a crash if none did.

use std::collections::{BTreeMap, BTreeSet};

use notify_core::{DeliveryStatus, FailedRecipient, PartStatus, TargetInput};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use crate::model::NewDelivery;
use crate::outbox::actions::one;
use crate::outbox::roll_up::roll_up_messages;
use crate::outbox::Outbox;
use crate::StoreError;

/// A target's fallback as ingress resolved it, stored on the primary delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackPlan {
    /// The fallback target with its people and groups expanded to native ids: what is sent
    /// when the whole primary delivery failed or expired.
    pub target: TargetInput,
    /// The fallback channel kind's person field (`users` or `work_ids`); empty when the kind
    /// has none.
    #[serde(default)]
    pub field: String,
    /// Primary native id → fallback native id, for the primary's directory people who have an
    /// id on the fallback's channel kind.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

impl FallbackPlan {
    /// The fallback native ids of the refused primary recipients who are directory people.
    pub fn mapped(&self, failed: &[FailedRecipient]) -> Vec<String> {
        let mut seen = BTreeSet::new();
        failed
            .iter()
            .filter_map(|f| self.map.get(&f.recipient))
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect()
    }
}

/// Why a fallback is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    /// The primary delivery failed or expired: the fallback target as given.
    Whole,
    /// The primary was sent, but directory people among its recipients were refused: the
    /// fallback for exactly those people.
    People,
}

impl FallbackReason {
    fn as_str(self) -> &'static str {
        match self {
            FallbackReason::Whole => "whole",
            FallbackReason::People => "people",
        }
    }
}

/// A fallback waiting to be planned, with what planning needs.
#[derive(Debug, Clone)]
pub struct PendingFallback {
    /// The primary delivery.
    pub delivery_id: String,
    /// Its message.
    pub message_id: String,
    /// Why it is due.
    pub reason: FallbackReason,
    /// The resolved fallback.
    pub plan: FallbackPlan,
    /// The primary's refused recipients.
    pub failed_recipients: Vec<FailedRecipient>,
    /// The message's tenant.
    pub tenant: String,
    /// The message as posted (canonical JSON of the unified message).
    pub body: String,
    /// The message's accept time.
    pub created_at: i64,
    /// The message's deadline.
    pub expires_at: i64,
}

impl PendingFallback {
    /// The target to plan: the fallback target as given for a whole failure, else the same
    /// target addressed to exactly the refused people. `None`: nobody is left to reach.
    pub fn target(&self) -> Option<TargetInput> {
        match self.reason {
            FallbackReason::Whole => Some(self.plan.target.clone()),
            FallbackReason::People => {
                let ids = self.plan.mapped(&self.failed_recipients);
                if ids.is_empty() {
                    return None;
                }
                let mut t = TargetInput {
                    channel: self.plan.target.channel.clone(),
                    kind: self.plan.target.kind.clone(),
                    company_id: self.plan.target.company_id.clone(),
                    safe: self.plan.target.safe,
                    raw: self.plan.target.raw.clone(),
                    ..TargetInput::default()
                };
                match self.plan.field.as_str() {
                    "work_ids" => t.work_ids = Some(ids),
                    _ => t.users = Some(ids),
                }
                Some(t)
            }
        }
    }

    /// A fresh deadline for the fallback: as long as the message's own time to live, from
    /// now (the primary may have used all of its own by expiring).
    pub fn expires_at(&self, now: i64) -> i64 {
        now + (self.expires_at - self.created_at).max(0)
    }
}

/// Writes the pending-fallback row of `delivery_id` if it carries a fallback and `status`
/// calls for it. Called inside the transaction that sets the status. Returns true when a row
/// was written.
pub(crate) async fn note_final(
    tx: &mut Transaction<'static, Any>,
    delivery_id: &str,
    status: DeliveryStatus,
    now: i64,
) -> Result<bool, StoreError> {
    if !matches!(
        status,
        DeliveryStatus::Failed | DeliveryStatus::Expired | DeliveryStatus::Sent
    ) {
        return Ok(false);
    }
    let row = sqlx::query(
        // Once per primary: an admin retry of a delivery whose fallback was sent does not
        // send the fallback again.
        "SELECT d.message_id, d.fallback, d.failed_recipients FROM deliveries d \
         WHERE d.id = $1 AND d.fallback IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM deliveries f WHERE f.message_id = d.message_id AND f.fallback_of = d.id)",
    )
    .bind(delivery_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let message_id: String = row.try_get(0)?;
    let reason = if status == DeliveryStatus::Sent {
        let plan: String = row.try_get(1)?;
        let failed: String = row.try_get(2)?;
        let plan = plan_of(delivery_id, &plan)?;
        let failed: Vec<FailedRecipient> = serde_json::from_str(&failed).unwrap_or_default();
        if plan.mapped(&failed).is_empty() {
            return Ok(false);
        }
        FallbackReason::People
    } else {
        FallbackReason::Whole
    };
    let n = sqlx::query(
        "INSERT INTO pending_fallbacks (delivery_id, message_id, reason, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (delivery_id) DO NOTHING",
    )
    .bind(delivery_id)
    .bind(&message_id)
    .bind(reason.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

fn plan_of(delivery_id: &str, json: &str) -> Result<FallbackPlan, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt_json(format!("fallback of delivery {delivery_id}"), e))
}

impl Outbox<'_> {
    /// Up to `limit` fallbacks waiting to be planned, oldest first.
    pub async fn pending_fallbacks(self, limit: i64) -> Result<Vec<PendingFallback>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.delivery_id, p.message_id, p.reason, d.fallback, d.failed_recipients, \
                    m.tenant, m.body, m.created_at, m.expires_at \
             FROM pending_fallbacks p \
             JOIN deliveries d ON d.id = p.delivery_id \
             JOIN messages m ON m.id = p.message_id \
             ORDER BY p.created_at, p.delivery_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let delivery_id: String = r.try_get(0)?;
                let reason: String = r.try_get(2)?;
                let plan: Option<String> = r.try_get(3)?;
                let failed: String = r.try_get(4)?;
                Ok(PendingFallback {
                    plan: plan_of(&delivery_id, plan.as_deref().unwrap_or("null"))?,
                    delivery_id,
                    message_id: r.try_get(1)?,
                    reason: if reason == "people" {
                        FallbackReason::People
                    } else {
                        FallbackReason::Whole
                    },
                    failed_recipients: serde_json::from_str(&failed).unwrap_or_default(),
                    tenant: r.try_get(5)?,
                    body: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                    expires_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Adds the fallback delivery `delivery` (`None`: nobody is left to reach, or it cannot be
    /// planned) for the pending fallback of `primary_id`, due until `expires_at`, and deletes
    /// the pending row, in one transaction. Returns false when the row was already gone
    /// (another replica added it): nothing is written then.
    pub async fn insert_fallback(
        self,
        primary_id: &str,
        delivery: Option<&NewDelivery>,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        // The delete is the fence: of two replicas planning the same fallback, one deletes the
        // row (the other waits on its lock, then deletes nothing and rolls back).
        let taken = sqlx::query("DELETE FROM pending_fallbacks WHERE delivery_id = $1")
            .bind(primary_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if taken == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let row = sqlx::query(
            "SELECT d.message_id, d.tenant, m.priority, \
                    (SELECT COALESCE(MAX(seq), 0) + 1 FROM deliveries WHERE message_id = d.message_id) \
             FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = $1",
        )
        .bind(primary_id)
        .fetch_one(&mut *tx)
        .await?;
        let message_id: String = row.try_get(0)?;
        let mut new_lanes = Vec::new();
        if let Some(d) = delivery {
            let tenant: String = row.try_get(1)?;
            let priority: i64 = row.try_get(2)?;
            let seq: i64 = row.try_get(3)?;
            sqlx::query(
                "INSERT INTO deliveries (id, message_id, seq, tenant, channel, kind, native_type, \
                 status, truncated, context, created_at, updated_at, expires_at, chat_key, people, \
                 fallback_of) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15)",
            )
            .bind(&d.id)
            .bind(&message_id)
            .bind(seq)
            .bind(&tenant)
            .bind(&d.channel)
            .bind(d.kind.as_str())
            .bind(&d.native_type)
            .bind(d.status.as_str())
            .bind(i64::from(d.truncated))
            .bind(&d.context)
            .bind(now)
            .bind(expires_at)
            .bind(&d.chat_key)
            .bind(&d.people)
            .bind(primary_id)
            .execute(&mut *tx)
            .await?;
            for p in &d.parts {
                sqlx::query(
                    "INSERT INTO parts (id, delivery_id, message_id, seq, op, lane, interface, \
                     channel, tenant, priority, status, body, recipients, depends_on, \
                     next_attempt_at, expires_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15, $15)",
                )
                .bind(&p.id)
                .bind(&d.id)
                .bind(&message_id)
                .bind(p.seq)
                .bind(p.op.as_str())
                .bind(&p.lane.lane)
                .bind(&p.lane.interface)
                .bind(&d.channel)
                .bind(&tenant)
                .bind(priority)
                .bind(
                    if p.depends_on.is_some() {
                        PartStatus::Blocked
                    } else {
                        PartStatus::Queued
                    }
                    .as_str(),
                )
                .bind(&p.body)
                .bind(&p.recipients)
                .bind(p.depends_on)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            }
            new_lanes = self
                .store
                .register_lanes_in(&mut tx, d.parts.iter().map(|p| &p.lane))
                .await?;
        }
        roll_up_messages(&mut tx, self.store.dialect, &one(&message_id), now).await?;
        tx.commit().await?;
        self.store.remember_lanes(new_lanes);
        if delivery.is_some() {
            self.store.announce().await;
        }
        Ok(true)
    }
}
