//! What the Juzi sidebar reads and writes: the waiting deliveries of one chat, one delivery for
//! a scope check, and the single-use OAuth `state` values (kept server-side so that a callback
//! can only complete a sign-in this gateway started), and the agent's report of its send
//! ([`Sidebar::record_agent_result`]), which settles the delivery like the outbox's actions do.

use serde_json::Value;
use sqlx::Row;

use notify_core::DeliveryStatus;

use crate::outbox::actions::one;
use crate::outbox::roll_up::roll_up_messages;
use crate::{stored, Store, StoreError};

/// The Juzi sidebar's role ([`Store::sidebar`]): OAuth `state` values, the waiting deliveries
/// of a chat, one delivery for a scope check, and the agent's report. Used by `notify-sidebar`
/// and by `notify-gateway`'s sandbox (the chats its simulator lists).
///
/// The agent's report ([`Sidebar::record_agent_result`]) writes a delivery's status like the
/// outbox's actions do, but it is here, not on [`crate::outbox::Outbox`]: the sidebar is its
/// only caller, and with it here the sidebar needs no outbox handle (which would let it insert,
/// claim or complete).
#[derive(Debug, Clone, Copy)]
pub struct Sidebar<'s> {
    pub(crate) store: &'s Store,
}

/// A Juzi delivery as the sidebar sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SidebarDelivery {
    /// `dlv_…`.
    pub id: String,
    /// Its message.
    pub message_id: String,
    /// The caller's tenant.
    pub tenant: String,
    /// Channel name.
    pub channel: String,
    /// Native type (`text`, `news`…).
    pub native_type: String,
    /// Status (`AwaitingAgent` while it waits).
    pub status: DeliveryStatus,
    /// The message's title text.
    pub title: String,
    /// The adapter context: `chat_id`/`contact_id`, `bot_id`, `payloads`.
    pub context: Value,
    /// The target's chat key (the Juzi channel's `chat_key`).
    pub chat_key: Option<String>,
    /// Accept time (ms).
    pub created_at: i64,
    /// Deadline (ms).
    pub expires_at: i64,
}

/// One chat with deliveries waiting for an agent ([`Sidebar::waiting_chats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingChat {
    /// Channel name.
    pub channel: String,
    /// The chat key of the chat (with `@<botId>` when pinned).
    pub chat_key: String,
    /// How many deliveries wait.
    pub waiting: i64,
    /// Accept time of the oldest (ms).
    pub oldest_at: i64,
}

const COLUMNS: &str = "d.id, d.message_id, d.tenant, d.channel, d.native_type, d.status, m.title, \
                       d.context, d.chat_key, d.created_at, d.expires_at";

fn row_to_delivery(r: &sqlx::any::AnyRow) -> Result<SidebarDelivery, StoreError> {
    let context: String = r.try_get(7)?;
    Ok(SidebarDelivery {
        id: r.try_get(0)?,
        message_id: r.try_get(1)?,
        tenant: r.try_get(2)?,
        channel: r.try_get(3)?,
        native_type: r.try_get(4)?,
        status: stored::get(r, 5, "deliveries.status")?,
        title: r.try_get(6)?,
        context: serde_json::from_str(&context).unwrap_or(Value::Null),
        chat_key: r.try_get(8)?,
        created_at: r.try_get(9)?,
        expires_at: r.try_get(10)?,
    })
}

impl Sidebar<'_> {
    /// Keeps a fresh OAuth `state` for `channel`, and forgets states older than `max_age_ms`
    /// (sign-ins that were never finished).
    pub async fn put_oauth_state(
        self,
        state: &str,
        channel: &str,
        max_age_ms: i64,
    ) -> Result<(), StoreError> {
        let now = self.store.now_ms();
        sqlx::query("DELETE FROM oauth_states WHERE created_at < $1")
            .bind(now - max_age_ms)
            .execute(&self.store.pool)
            .await?;
        sqlx::query("INSERT INTO oauth_states (state, channel, created_at) VALUES ($1, $2, $3)")
            .bind(state)
            .bind(channel)
            .bind(now)
            .execute(&self.store.pool)
            .await?;
        Ok(())
    }

    /// Uses up `state`: the channel it was issued for, when it exists and is at most
    /// `max_age_ms` old. A state is taken once; a second callback with it gets `None`.
    pub async fn take_oauth_state(
        self,
        state: &str,
        max_age_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let now = self.store.now_ms();
        let row =
            sqlx::query("DELETE FROM oauth_states WHERE state = $1 RETURNING channel, created_at")
                .bind(state)
                .fetch_optional(&self.store.pool)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let created: i64 = row.try_get(1)?;
        Ok((now - created <= max_age_ms)
            .then(|| row.try_get(0))
            .transpose()?)
    }

    /// The deliveries of `channel` still waiting for an agent in the chat of one of `keys`,
    /// oldest first, not past their deadline; only `tenant`'s when given.
    pub async fn waiting_for_chat(
        self,
        channel: &str,
        keys: &[String],
        tenant: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SidebarDelivery>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries d JOIN messages m ON m.id = d.message_id \
             WHERE d.channel = $1 AND d.status = 'awaiting_agent' AND d.expires_at > $2 \
             AND d.chat_key IN ({}) {} ORDER BY d.created_at, d.id LIMIT $3",
            crate::sql::list(keys.len(), 4),
            if tenant.is_some() {
                format!("AND d.tenant = ${}", 4 + keys.len())
            } else {
                String::new()
            }
        );
        let mut q = sqlx::query(&sql)
            .bind(channel)
            .bind(self.store.now_ms())
            .bind(limit);
        for k in keys {
            q = q.bind(k);
        }
        if let Some(t) = tenant {
            q = q.bind(t);
        }
        q.fetch_all(&self.store.pool)
            .await?
            .iter()
            .map(row_to_delivery)
            .collect()
    }

    /// Every chat that has deliveries waiting for an agent (not past their deadline), per
    /// channel and [`chat_key`], oldest waiting first, at most `limit`. Only the sandbox's
    /// simulated chats read it: a real agent's sidebar looks up its own chat.
    pub async fn waiting_chats(self, limit: i64) -> Result<Vec<WaitingChat>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.channel, d.chat_key, COUNT(*), MIN(d.created_at) FROM deliveries d \
             WHERE d.status = 'awaiting_agent' AND d.expires_at > $1 AND d.chat_key IS NOT NULL \
             GROUP BY d.channel, d.chat_key ORDER BY MIN(d.created_at), d.channel, d.chat_key \
             LIMIT $2",
        )
        .bind(self.store.now_ms())
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WaitingChat {
                    channel: r.try_get(0)?,
                    chat_key: r.try_get(1)?,
                    waiting: r.try_get(2)?,
                    oldest_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// One delivery for the sidebar's scope check, in any status.
    pub async fn sidebar_delivery(self, id: &str) -> Result<Option<SidebarDelivery>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = $1"
        );
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?
            .as_ref()
            .map(row_to_delivery)
            .transpose()
    }

    /// The Juzi sidebar's report of an agent's send: `sent` or `failed` with the reason.
    /// Idempotent: a second report of the same result changes nothing and returns the status.
    pub async fn record_agent_result(
        self,
        delivery_id: &str,
        ok: bool,
        reason: Option<&str>,
    ) -> Result<DeliveryStatus, StoreError> {
        let now = self.store.now_ms();
        let status = if ok {
            DeliveryStatus::Sent
        } else {
            DeliveryStatus::Failed
        };
        let result = serde_json::json!({"ok": ok, "reason": reason, "at": now}).to_string();
        let mut tx = self.store.begin_tx().await?;
        let changed = sqlx::query(
            "UPDATE deliveries SET status = $2, agent_result = $3, last_error = $4, updated_at = $5 \
             WHERE id = $1 AND status = 'awaiting_agent'",
        )
        .bind(delivery_id)
        .bind(status.as_str())
        .bind(&result)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query("SELECT status, message_id FROM deliveries WHERE id = $1")
            .bind(delivery_id)
            .fetch_one(&mut *tx)
            .await?;
        let mut fallback_due = false;
        if changed > 0 {
            // An agent's failed send is final: its fallback, if any, is due with it.
            if !ok {
                fallback_due = crate::outbox::fallback::note_final(
                    &mut tx,
                    delivery_id,
                    DeliveryStatus::Failed,
                    now,
                )
                .await?;
            }
            let message_id: String = row.try_get(1)?;
            roll_up_messages(&mut tx, self.store.dialect, &one(&message_id), now).await?;
        }
        tx.commit().await?;
        if fallback_due {
            self.store.fallback_wake.bump();
        }
        stored::get(&row, 0, "deliveries.status")
    }
}
