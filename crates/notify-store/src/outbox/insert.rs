use std::collections::HashMap;

use sqlx::Row;

use crate::model::{InsertOutcome, LaneInfo, NewMessage};
use crate::outbox::INSERT_CHUNK;
use crate::sql::values;
use crate::{Store, StoreError};

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

        // 1. Messages, skipping taken idempotency keys.
        let mut inserted_ids = std::collections::HashSet::new();
        for chunk in batch.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO messages (id, tenant, caller, idempotency_key, body_hash, priority, \
                 title, body, status, response, created_at, updated_at, not_before, expires_at) \
                 VALUES {} ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING id",
                values(chunk.len(), 14, 1)
            );
            let mut q = sqlx::query(&sql);
            for m in chunk {
                q = q
                    .bind(&m.id)
                    .bind(&m.tenant)
                    .bind(&m.caller)
                    .bind(&m.idempotency_key)
                    .bind(&m.body_hash)
                    .bind(m.priority)
                    .bind(&m.title)
                    .bind(&m.body)
                    .bind("accepted")
                    .bind(&m.response)
                    .bind(m.created_at)
                    .bind(m.created_at)
                    .bind(m.not_before)
                    .bind(m.expires_at);
            }
            for row in q.fetch_all(&mut *tx).await? {
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
            let sql = format!(
                "INSERT INTO deliveries (id, message_id, seq, tenant, channel, kind, native_type, \
                 status, truncated, context, created_at, updated_at, expires_at) VALUES {}",
                values(chunk.len(), 13, 1)
            );
            let mut q = sqlx::query(&sql);
            for (m, d) in chunk {
                q = q
                    .bind(&d.id)
                    .bind(&m.id)
                    .bind(d.seq)
                    .bind(&m.tenant)
                    .bind(&d.channel)
                    .bind(&d.kind)
                    .bind(&d.native_type)
                    .bind(&d.status)
                    .bind(i64::from(d.truncated))
                    .bind(&d.context)
                    .bind(m.created_at)
                    .bind(m.created_at)
                    .bind(m.expires_at);
            }
            q.execute(&mut *tx).await?;
        }
        let parts: Vec<_> = deliveries
            .iter()
            .flat_map(|(m, d)| d.parts.iter().map(move |p| (*m, *d, p)))
            .collect();
        let mut lanes: HashMap<&str, &LaneInfo> = HashMap::new();
        for chunk in parts.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO parts (id, delivery_id, message_id, seq, op, lane, interface, channel, \
                 tenant, priority, status, body, recipients, depends_on, next_attempt_at, \
                 expires_at, created_at, updated_at) VALUES {}",
                values(chunk.len(), 18, 1)
            );
            let mut q = sqlx::query(&sql);
            for (m, d, p) in chunk {
                lanes.insert(&p.lane.lane, &p.lane);
                let status = if p.depends_on.is_some() {
                    "blocked"
                } else {
                    "queued"
                };
                q = q
                    .bind(&p.id)
                    .bind(&d.id)
                    .bind(&m.id)
                    .bind(p.seq)
                    .bind(p.op.as_str())
                    .bind(&p.lane.lane)
                    .bind(&p.lane.interface)
                    .bind(&d.channel)
                    .bind(&m.tenant)
                    .bind(m.priority)
                    .bind(status)
                    .bind(&p.body)
                    .bind(&p.recipients)
                    .bind(p.depends_on)
                    .bind(m.not_before.unwrap_or(m.created_at))
                    .bind(m.expires_at)
                    .bind(m.created_at)
                    .bind(m.created_at);
            }
            q.execute(&mut *tx).await?;
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
