use notify_core::PartOp;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::model::ClaimedPart;
use crate::{Dialect, Store, StoreError};

impl Store {
    /// Claims up to `limit` due parts of `lane`, most urgent first, under a lease of
    /// `lease_ms`. One statement, committed before any upstream call: no transaction or row lock
    /// is held across I/O. On Postgres `SKIP LOCKED` lets concurrent claimers pass each other;
    /// SQLite's single writer makes the statement atomic by itself.
    pub async fn claim(
        &self,
        lane: &str,
        owner: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedPart>, StoreError> {
        let now = self.now_ms();
        let token = ulid::Ulid::new().to_string();
        let lease_until = now + lease_ms;
        let lock = match self.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE parts SET status = 'sending', lease_owner = $1, lease_token = $2, \
             lease_until = $3, updated_at = $4 \
             WHERE id IN (SELECT id FROM parts WHERE lane = $5 AND status = 'queued' \
                          AND next_attempt_at <= $4 \
                          ORDER BY priority, next_attempt_at, id LIMIT $6 {lock}) \
             RETURNING id, delivery_id, message_id, seq, op, interface, channel, tenant, body, \
                       recipients, dependency_id, attempts, expires_at, priority, next_attempt_at"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(&token)
            .bind(lease_until)
            .bind(now)
            .bind(lane)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut parts = Vec::with_capacity(rows.len());
        let mut sorted: Vec<(i64, i64, String, AnyRow)> = rows
            .into_iter()
            .map(|r| {
                let p: i64 = r.try_get(13).unwrap_or(0);
                let n: i64 = r.try_get(14).unwrap_or(0);
                let id: String = r.try_get(0).unwrap_or_default();
                (p, n, id, r)
            })
            .collect();
        // RETURNING has no order; hand parts out in claim order.
        sorted.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        let mut delivery_ids = Vec::new();
        for (_, _, _, r) in sorted {
            let op: String = r.try_get(4)?;
            let body: String = r.try_get(8)?;
            let recipients: String = r.try_get(9)?;
            let part = ClaimedPart {
                id: r.try_get(0)?,
                delivery_id: r.try_get(1)?,
                message_id: r.try_get(2)?,
                seq: r.try_get(3)?,
                op: PartOp::parse(&op)
                    .ok_or_else(|| StoreError::Corrupt(format!("part op {op:?}")))?,
                interface: r.try_get(5)?,
                channel: r.try_get(6)?,
                tenant: r.try_get(7)?,
                body: serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt(format!("part body: {e}")))?,
                recipients: serde_json::from_str(&recipients)
                    .map_err(|e| StoreError::Corrupt(format!("part recipients: {e}")))?,
                dependency_id: r.try_get(10)?,
                attempts: r.try_get(11)?,
                expires_at: r.try_get(12)?,
                lease_token: token.clone(),
                lease_until,
                context: serde_json::Value::Null,
            };
            delivery_ids.push(part.delivery_id.clone());
            parts.push(part);
        }
        if !parts.is_empty() {
            let contexts = self.delivery_contexts(&delivery_ids).await?;
            for p in &mut parts {
                if let Some(c) = contexts.get(&p.delivery_id) {
                    p.context = c.clone();
                }
            }
        }
        Ok(parts)
    }

    async fn delivery_contexts(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, serde_json::Value>, StoreError> {
        let mut out = std::collections::HashMap::new();
        let mut unique: Vec<&String> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(500) {
            let sql = format!(
                "SELECT id, context FROM deliveries WHERE id IN ({})",
                crate::sql::list(chunk.len(), 1)
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: String = r.try_get(0)?;
                let ctx: String = r.try_get(1)?;
                out.insert(id, serde_json::from_str(&ctx).unwrap_or_default());
            }
        }
        Ok(out)
    }
}
