use std::collections::BTreeMap;

use sqlx::Row;

use crate::model::{InsertOutcome, LaneInfo, NewMessage};
use crate::outbox::INSERT_CHUNK;
use crate::sql::{from_json_rows, names};
use crate::{Store, StoreError};
use serde_json::json;

impl Store {
    /// Inserts a batch of accepted messages in one transaction (one commit for many callers:
    /// the road to fast ingress with `synchronous_commit` on). Each message gets its own
    /// outcome; a message whose idempotency key is taken inserts nothing.
    pub async fn insert_messages(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut tx = self.begin_tx().await?;
        let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; batch.len()];

        // 1. Messages, skipping taken idempotency keys. Every table's rows go in as one JSON
        // array bound to one parameter and expanded by the database (set-based; no per-value
        // bind cost, which grows badly with thousands of parameters).
        let mut inserted_ids = std::collections::HashSet::new();
        for chunk in batch.chunks(INSERT_CHUNK) {
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|m| {
                    json!({
                        "id": m.id, "tenant": m.tenant, "caller": m.caller,
                        "idempotency_key": m.idempotency_key, "body_hash": m.body_hash,
                        "priority": m.priority, "title": m.title, "body": m.body,
                        "status": "accepted", "response": m.response,
                        "created_at": m.created_at, "updated_at": m.created_at,
                        "not_before": m.not_before, "expires_at": m.expires_at,
                    })
                })
                .collect();
            let sql = format!(
                "INSERT INTO messages ({cols}) {select} \
                 ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING id",
                cols = names(MESSAGE_COLS),
                select = from_json_rows(self.dialect, MESSAGE_COLS)
            );
            for row in sqlx::query(&sql)
                .bind(serde_json::Value::Array(rows).to_string())
                .fetch_all(&mut *tx)
                .await?
            {
                inserted_ids.insert(row.try_get::<String, _>(0)?);
            }
        }

        // 2. Keys already taken: a replay of the same body, or a conflict.
        for (i, m) in batch.iter().enumerate() {
            if inserted_ids.contains(&m.id) {
                outcomes[i] = Some(InsertOutcome::Inserted);
                continue;
            }
            let row = sqlx::query(
                "SELECT id, body_hash, response FROM messages WHERE tenant = $1 AND idempotency_key = $2",
            )
            .bind(&m.tenant)
            .bind(&m.idempotency_key)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::Corrupt(format!(
                    "message {} neither inserted nor found by its key",
                    m.id
                )));
            };
            let hash: String = row.try_get(1)?;
            outcomes[i] = Some(if hash == m.body_hash {
                InsertOutcome::Replayed {
                    response: row.try_get(2)?,
                }
            } else {
                InsertOutcome::Conflict {
                    existing_id: row.try_get(0)?,
                }
            });
        }

        // 3. Deliveries and parts of the inserted messages.
        let fresh: Vec<&NewMessage> = batch
            .iter()
            .filter(|m| inserted_ids.contains(&m.id))
            .collect();
        let deliveries: Vec<(&NewMessage, &crate::model::NewDelivery)> = fresh
            .iter()
            .flat_map(|m| m.deliveries.iter().map(move |d| (*m, d)))
            .collect();
        for chunk in deliveries.chunks(INSERT_CHUNK) {
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(m, d)| {
                    json!({
                        "id": d.id, "message_id": m.id, "seq": d.seq, "tenant": m.tenant,
                        "channel": d.channel, "kind": d.kind, "native_type": d.native_type,
                        "status": d.status, "truncated": i64::from(d.truncated),
                        "context": d.context, "created_at": m.created_at,
                        "updated_at": m.created_at, "expires_at": m.expires_at,
                        "chat_key": d.chat_key,
                    })
                })
                .collect();
            let sql = format!(
                "INSERT INTO deliveries ({}) {}",
                names(DELIVERY_COLS),
                from_json_rows(self.dialect, DELIVERY_COLS)
            );
            sqlx::query(&sql)
                .bind(serde_json::Value::Array(rows).to_string())
                .execute(&mut *tx)
                .await?;
        }
        let parts: Vec<_> = deliveries
            .iter()
            .flat_map(|(m, d)| d.parts.iter().map(move |p| (*m, *d, p)))
            .collect();
        // Sorted, so concurrent transactions registering the same new lanes take their row locks
        // in one order and cannot deadlock each other.
        let mut lanes: BTreeMap<&str, &LaneInfo> = BTreeMap::new();
        for chunk in parts.chunks(INSERT_CHUNK) {
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(m, d, p)| {
                    lanes.insert(&p.lane.lane, &p.lane);
                    let status = if p.depends_on.is_some() {
                        "blocked"
                    } else {
                        "queued"
                    };
                    json!({
                        "id": p.id, "delivery_id": d.id, "message_id": m.id, "seq": p.seq,
                        "op": p.op.as_str(), "lane": p.lane.lane, "interface": p.lane.interface,
                        "channel": d.channel, "tenant": m.tenant, "priority": m.priority,
                        "status": status, "body": p.body, "recipients": p.recipients,
                        "depends_on": p.depends_on,
                        "next_attempt_at": m.not_before.unwrap_or(m.created_at),
                        "expires_at": m.expires_at, "created_at": m.created_at,
                        "updated_at": m.created_at,
                    })
                })
                .collect();
            let sql = format!(
                "INSERT INTO parts ({}) {}",
                names(PART_COLS),
                from_json_rows(self.dialect, PART_COLS)
            );
            sqlx::query(&sql)
                .bind(serde_json::Value::Array(rows).to_string())
                .execute(&mut *tx)
                .await?;
        }
        let new_lanes = self.register_lanes_in(&mut tx, lanes.into_values()).await?;
        if !parts.is_empty() {
            // NOTIFY is transactional: sent at commit, one per batch, no extra round trip.
            self.notify_in(&mut tx).await?;
        }
        tx.commit().await?;
        self.remember_lanes(new_lanes);
        if !parts.is_empty() {
            self.wake.bump();
        }
        Ok(outcomes.into_iter().flatten().collect())
    }
}

/// Columns and their Postgres types, in insert order.
const MESSAGE_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("tenant", "text"),
    ("caller", "text"),
    ("idempotency_key", "text"),
    ("body_hash", "text"),
    ("priority", "bigint"),
    ("title", "text"),
    ("body", "text"),
    ("status", "text"),
    ("response", "text"),
    ("created_at", "bigint"),
    ("updated_at", "bigint"),
    ("not_before", "bigint"),
    ("expires_at", "bigint"),
];

const DELIVERY_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("message_id", "text"),
    ("seq", "bigint"),
    ("tenant", "text"),
    ("channel", "text"),
    ("kind", "text"),
    ("native_type", "text"),
    ("status", "text"),
    ("truncated", "bigint"),
    ("context", "text"),
    ("created_at", "bigint"),
    ("updated_at", "bigint"),
    ("expires_at", "bigint"),
    ("chat_key", "text"),
];

const PART_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("delivery_id", "text"),
    ("message_id", "text"),
    ("seq", "bigint"),
    ("op", "text"),
    ("lane", "text"),
    ("interface", "text"),
    ("channel", "text"),
    ("tenant", "text"),
    ("priority", "bigint"),
    ("status", "text"),
    ("body", "text"),
    ("recipients", "text"),
    ("depends_on", "bigint"),
    ("next_attempt_at", "bigint"),
    ("expires_at", "bigint"),
    ("created_at", "bigint"),
    ("updated_at", "bigint"),
];
