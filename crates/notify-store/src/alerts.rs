//! Alerts as callers read them (`GET /v1/alerts`, `GET /v1/alerts/{key}`) and the digest
//! row-timer: which digests are due, and clearing one once its message is stored. The alert
//! rows are written by the insert transaction (`outbox::insert::alerts`).

use notify_core::clock::ms_to_rfc3339;
use notify_core::{ChannelKind, DeliveryStatus, MessageStatus};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{stored, Store, StoreError};

/// The alerts role ([`Store::alerts`]): alert reads (`GET /v1/alerts`, `GET /v1/alerts/{key}`),
/// the deliveries a resolve updates, and the digest row-timer (due digests, clearing one). Used
/// by `notify-api` only. The alert rows themselves are written by the outbox's insert.
#[derive(Debug, Clone, Copy)]
pub struct Alerts<'s> {
    pub(crate) store: &'s Store,
}

/// Why an undelivered firing delivery was cancelled by its alert's resolve.
pub const RESOLVED_BEFORE_SENT: &str = "the alert was resolved before this was sent";
/// Why a resolve's delivery was cancelled on a channel that never carried the alert.
pub const NOTHING_SENT: &str = "nothing was sent for this alert";

/// The columns every alert read selects, in [`alert_of`]'s order.
const ALERT_COLUMNS: &str = "tenant, alert_key, status, first_seen, last_seen, sent_count, \
     suppressed_count, acknowledged_by, acknowledged_at, \
     (SELECT COUNT(*) FROM deliveries d JOIN messages m ON m.id = d.message_id \
       WHERE m.tenant = alerts.tenant AND m.alert_key = alerts.alert_key \
         AND d.escalation_step IS NOT NULL AND d.status = 'queued' \
         AND NOT EXISTS (SELECT 1 FROM parts p WHERE p.delivery_id = d.id AND p.attempts > 0))";

/// An alert's status as shown: `firing`, `acknowledged` (firing, acknowledged by someone) or
/// `resolved`.
fn shown_status(stored: &str, acknowledged: bool) -> String {
    if stored == "firing" && acknowledged {
        "acknowledged".into()
    } else {
        stored.into()
    }
}

/// One alert as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertView {
    /// The alert's key within its tenant.
    pub key: String,
    /// Tenant.
    pub tenant: String,
    /// `firing`, `acknowledged` or `resolved`.
    pub status: String,
    /// RFC 3339: its first message.
    pub first_seen: String,
    /// RFC 3339: its latest message.
    pub last_seen: String,
    /// Messages that went out (firing leads and resolves; digests are not counted).
    pub sent: i64,
    /// Firing messages suppressed inside a dedup window.
    pub suppressed: i64,
    /// Who acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// RFC 3339: when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
    /// Escalation steps of its messages still waiting to go out (none of their calls tried).
    pub pending_escalation_steps: i64,
    /// Its messages, newest first (`GET /v1/alerts/{key}` only; empty in lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<AlertMessage>,
}

/// One message of an alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertMessage {
    /// `msg_…`.
    pub id: String,
    /// The message's status (`suppressed` for storm-controlled ones).
    pub status: MessageStatus,
    /// `firing` or `resolved`, as the message said (digests: `digest`).
    pub alert_status: String,
    /// The message that went out in its place, for a suppressed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_into: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// Filters of `GET /v1/alerts`.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this tenant (`None`: all, for admins).
    pub tenant: Option<String>,
    /// `firing`, `acknowledged` or `resolved`.
    pub status: Option<String>,
    /// After this position of the previous page: `(first_seen, tenant, key)`.
    pub after: Option<(i64, String, String)>,
    /// Page size.
    pub limit: i64,
}

/// An alert position for cursors: `(first_seen ms, tenant, key)`.
pub type AlertPosition = (i64, String, String);

/// A digest whose window has ended: one message summarising `count` suppressed messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDigest {
    /// Tenant.
    pub tenant: String,
    /// The alert's key.
    pub key: String,
    /// The start of the window it summarises (its idempotency key: `digest:{key}:{start}`).
    pub window_start: i64,
    /// The window's length (ms).
    pub window_ms: i64,
    /// Suppressed messages in the window.
    pub count: i64,
    /// The lead that went out: its caller and body give the digest's targets and title.
    pub lead_id: String,
    /// The lead's caller.
    pub lead_caller: String,
    /// The lead's unified body (canonical JSON).
    pub lead_body: String,
}

fn alert_of(r: &sqlx::any::AnyRow) -> Result<(AlertView, i64), StoreError> {
    let first_seen: i64 = r.try_get(3)?;
    let acknowledged_at: Option<i64> = r.try_get(8)?;
    let stored: String = r.try_get(2)?;
    Ok((
        AlertView {
            tenant: r.try_get(0)?,
            key: r.try_get(1)?,
            status: shown_status(&stored, acknowledged_at.is_some()),
            first_seen: ms_to_rfc3339(first_seen),
            last_seen: ms_to_rfc3339(r.try_get(4)?),
            sent: r.try_get(5)?,
            suppressed: r.try_get(6)?,
            acknowledged_by: r.try_get(7)?,
            acknowledged_at: acknowledged_at.map(ms_to_rfc3339),
            pending_escalation_steps: r.try_get(9)?,
            messages: Vec::new(),
        },
        first_seen,
    ))
}

impl Alerts<'_> {
    /// A page of alerts, newest first (by first message), each with its position for the next
    /// page's cursor.
    pub async fn list_alerts(
        self,
        f: &AlertFilter,
    ) -> Result<Vec<(AlertView, AlertPosition)>, StoreError> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1");
        let mut texts: Vec<String> = Vec::new();
        let p = |texts: &mut Vec<String>, v: String| {
            texts.push(v);
            format!("${}", texts.len())
        };
        if let Some(t) = &f.tenant {
            let t = p(&mut texts, t.clone());
            sql.push_str(&format!(" AND tenant = {t}"));
        }
        match f.status.as_deref() {
            Some("firing") => {
                sql.push_str(" AND status = 'firing' AND acknowledged_at IS NULL");
            }
            Some("acknowledged") => {
                sql.push_str(" AND status = 'firing' AND acknowledged_at IS NOT NULL");
            }
            Some("resolved") => sql.push_str(" AND status = 'resolved'"),
            Some(other) => {
                return Err(StoreError::Corrupt(format!("alert status {other:?}")));
            }
            None => {}
        }
        if let Some((fs, t, k)) = &f.after {
            // first_seen is bound as text and cast, so every parameter here is text.
            let fs = p(&mut texts, fs.to_string());
            let t = p(&mut texts, t.clone());
            let k = p(&mut texts, k.clone());
            sql.push_str(&format!(
                " AND (first_seen < CAST({fs} AS BIGINT) OR (first_seen = CAST({fs} AS BIGINT) \
                 AND (tenant > {t} OR (tenant = {t} AND alert_key > {k}))))"
            ));
        }
        let limit = p(&mut texts, f.limit.to_string());
        sql.push_str(&format!(
            " ORDER BY first_seen DESC, tenant, alert_key LIMIT CAST({limit} AS BIGINT)"
        ));
        let mut q = sqlx::query(&sql);
        for t in texts {
            q = q.bind(t);
        }
        q.fetch_all(&self.store.pool)
            .await?
            .iter()
            .map(|r| {
                let (a, first_seen) = alert_of(r)?;
                let pos = (first_seen, a.tenant.clone(), a.key.clone());
                Ok((a, pos))
            })
            .collect()
    }

    /// One alert with its messages (newest first, at most `limit`); `None` when the tenant
    /// has no such alert.
    pub async fn get_alert(
        self,
        tenant: &str,
        key: &str,
        limit: i64,
    ) -> Result<Option<AlertView>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant = $1 AND alert_key = $2"
        ))
        .bind(tenant)
        .bind(key)
        .fetch_optional(&self.store.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (mut alert, _) = alert_of(&row)?;
        let rows = sqlx::query(
            "SELECT id, status, alert_status, suppressed_into, created_at FROM messages \
             WHERE tenant = $1 AND alert_key = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        for r in &rows {
            alert.messages.push(AlertMessage {
                id: r.try_get(0)?,
                status: stored::get(r, 1, "messages.status")?,
                alert_status: r.try_get(2)?,
                suppressed_into: r.try_get(3)?,
                created_at: ms_to_rfc3339(r.try_get(4)?),
            });
        }
        Ok(Some(alert))
    }

    /// The alert's firing deliveries of channel `kind` that were sent (their cards may take a
    /// state update on resolve), with their parts.
    pub async fn alert_sent_deliveries(
        self,
        tenant: &str,
        key: &str,
        kind: ChannelKind,
    ) -> Result<Vec<crate::DeliveryView>, StoreError> {
        let messages: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT d.message_id FROM deliveries d JOIN messages m ON m.id = d.message_id \
             WHERE m.tenant = $1 AND m.alert_key = $2 AND m.alert_status = 'firing' \
               AND d.kind = $3 AND d.status = 'sent'",
        )
        .bind(tenant)
        .bind(key)
        .bind(kind.as_str())
        .fetch_all(&self.store.pool)
        .await?;
        let mut out = Vec::new();
        for id in messages {
            if let Some(m) = self.store.reads().get_message(Some(tenant), &id).await? {
                out.extend(
                    m.deliveries
                        .into_iter()
                        .filter(|d| d.kind == kind && d.status == DeliveryStatus::Sent),
                );
            }
        }
        Ok(out)
    }

    /// Digests due at `now`, oldest first, with their lead's caller and body.
    pub async fn due_digests(self, now: i64, limit: i64) -> Result<Vec<DueDigest>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.tenant, a.alert_key, a.digest_window_start, a.dedup_window_ms, \
                    a.digest_count, a.digest_lead_id, m.caller, m.body \
             FROM alerts a JOIN messages m ON m.id = a.digest_lead_id \
             WHERE a.digest_due_at IS NOT NULL AND a.digest_due_at <= $1 \
             ORDER BY a.digest_due_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueDigest {
                    tenant: r.try_get(0)?,
                    key: r.try_get(1)?,
                    window_start: r.try_get(2)?,
                    window_ms: r.try_get(3)?,
                    count: r.try_get(4)?,
                    lead_id: r.try_get(5)?,
                    lead_caller: r.try_get(6)?,
                    lead_body: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Clears a digest once its message is stored: a compare-and-set on the window it
    /// summarised, so a second replica's clear (or a resolve since) changes nothing. What the
    /// current window suppressed while the slot was taken moves into the slot. True when this
    /// call cleared it.
    pub async fn clear_digest(
        self,
        tenant: &str,
        key: &str,
        window_start: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alerts SET \
               digest_due_at = CASE WHEN suppressed_since_digest > 0 THEN window_until END, \
               digest_window_start = CASE WHEN suppressed_since_digest > 0 THEN window_start END, \
               digest_lead_id = CASE WHEN suppressed_since_digest > 0 THEN lead_message_id END, \
               digest_count = suppressed_since_digest, \
               suppressed_since_digest = 0 \
             WHERE tenant = $1 AND alert_key = $2 AND digest_window_start = $3",
        )
        .bind(tenant)
        .bind(key)
        .bind(window_start)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        Ok(done > 0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_acknowledged_firing_alert_shows_as_acknowledged() {
        assert_eq!(super::shown_status("firing", true), "acknowledged");
        assert_eq!(super::shown_status("firing", false), "firing");
        assert_eq!(super::shown_status("resolved", true), "resolved");
    }
}
