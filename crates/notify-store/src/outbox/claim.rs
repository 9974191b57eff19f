use sqlx::any::AnyRow;
use sqlx::Row;

use crate::model::ClaimedPart;
use crate::outbox::Outbox;
use crate::sql::{in_ids, json};
use crate::{stored, Dialect, StoreError};

impl Outbox<'_> {
    /// Claims up to `limit` due parts of `lane`, most urgent first and fair across tenants
    /// within a priority, under a lease of `lease_ms`. One statement, committed before any
    /// upstream call: no transaction or row lock is held across I/O. On Postgres `SKIP LOCKED`
    /// lets concurrent claimers pass each other; SQLite's single writer makes the statement
    /// atomic by itself.
    ///
    /// Fairness: the tenants with queued parts in the lane are listed by a loose index scan
    /// (one index probe per tenant on `parts_claim_tenant`), each tenant offers its best
    /// `limit` due parts (an index range scan), and the parts are taken by priority, then by
    /// their turn within their tenant: one tenant's flood of 100,000 messages interleaves with
    /// another tenant's next message instead of queueing it behind the flood. The cost grows
    /// with the number of tenants that have work in the lane, not with the backlog.
    pub async fn claim(
        self,
        lane: &str,
        owner: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedPart>, StoreError> {
        let now = self.store.now_ms();
        let token = ulid::Ulid::new().to_string();
        let lease_until = now + lease_ms;
        // Each tenant's best due parts. Postgres runs the per-tenant scan as a LATERAL join and
        // locks with SKIP LOCKED; SQLite has neither, and drives the same index from a
        // correlated `IN` (its planner probes the primary key per offered id).
        let offers = match self.store.dialect {
            Dialect::Postgres => {
                "SELECT q.id, q.tenant, q.priority, q.next_attempt_at FROM tenants t CROSS JOIN LATERAL ( \
                   SELECT id, tenant, priority, next_attempt_at FROM parts \
                   WHERE lane = $5 AND tenant = t.tenant AND status = 'queued' AND next_attempt_at <= $4 \
                   ORDER BY priority, next_attempt_at, id LIMIT $6 FOR UPDATE SKIP LOCKED) q \
                 WHERE t.tenant IS NOT NULL"
            }
            Dialect::Sqlite => {
                "SELECT c.id, c.tenant, c.priority, c.next_attempt_at FROM tenants t JOIN parts c ON c.id IN ( \
                   SELECT id FROM parts \
                   WHERE lane = $5 AND tenant = t.tenant AND status = 'queued' AND next_attempt_at <= $4 \
                   ORDER BY priority, next_attempt_at, id LIMIT $6) \
                 WHERE t.tenant IS NOT NULL"
            }
        };
        let sql = format!(
            "WITH RECURSIVE tenants(tenant) AS ( \
               SELECT * FROM (SELECT tenant FROM parts WHERE lane = $5 AND status = 'queued' \
                              ORDER BY tenant LIMIT 1) AS first_tenant \
               UNION ALL \
               SELECT (SELECT p.tenant FROM parts p WHERE p.lane = $5 AND p.status = 'queued' \
                       AND p.tenant > t.tenant ORDER BY p.tenant LIMIT 1) \
               FROM tenants t WHERE t.tenant IS NOT NULL \
             ), \
             offers AS ({offers}), \
             turns AS ( \
               SELECT id, priority, next_attempt_at, ROW_NUMBER() OVER ( \
                 PARTITION BY tenant, priority ORDER BY next_attempt_at, id) AS turn FROM offers \
             ) \
             UPDATE parts SET status = 'sending', lease_owner = $1, lease_token = $2, \
             lease_until = $3, updated_at = $4 \
             WHERE id IN (SELECT id FROM turns ORDER BY priority, turn, next_attempt_at, id LIMIT $6) \
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
            .fetch_all(&self.store.pool)
            .await?;
        let mut parts = Vec::with_capacity(rows.len());
        // RETURNING has no order; hand parts out in claim order: priority, then each tenant's
        // turn (its n-th part of that priority), then due time.
        let mut sorted: Vec<Claimed> = rows
            .into_iter()
            .map(|r| Claimed {
                priority: r.try_get(13).unwrap_or(0),
                due: r.try_get(14).unwrap_or(0),
                id: r.try_get(0).unwrap_or_default(),
                tenant: r.try_get(7).unwrap_or_default(),
                turn: 0,
                row: r,
            })
            .collect();
        sorted.sort_by(|a, b| {
            (&a.tenant, a.priority, a.due, &a.id).cmp(&(&b.tenant, b.priority, b.due, &b.id))
        });
        for i in 1..sorted.len() {
            if sorted[i - 1].tenant == sorted[i].tenant
                && sorted[i - 1].priority == sorted[i].priority
            {
                sorted[i].turn = sorted[i - 1].turn + 1;
            }
        }
        sorted.sort_by(|a, b| {
            (a.priority, a.turn, a.due, &a.id).cmp(&(b.priority, b.turn, b.due, &b.id))
        });
        let mut delivery_ids = Vec::new();
        for Claimed { row: r, .. } in sorted {
            let op: String = r.try_get(4)?;
            let body: String = r.try_get(8)?;
            let recipients: String = r.try_get(9)?;
            let part = ClaimedPart {
                id: r.try_get(0)?,
                delivery_id: r.try_get(1)?,
                message_id: r.try_get(2)?,
                seq: r.try_get(3)?,
                op: stored::decode("parts.op", &op)?,
                interface: r.try_get(5)?,
                channel: r.try_get(6)?,
                tenant: r.try_get(7)?,
                body: serde_json::from_str(&body)
                    .map_err(|e| StoreError::corrupt_json("part body", e))?,
                recipients: serde_json::from_str(&recipients)
                    .map_err(|e| StoreError::corrupt_json("part recipients", e))?,
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

    /// The adapter contexts of `ids`' deliveries. One statement text whatever the number of
    /// ids (an `IN ($1, …)` list would be a statement per length, each prepared on each pooled
    /// connection): see [`crate::sql::in_ids`].
    ///
    /// Not a prepared statement: Postgres plans it at each call, for the table as it is then.
    /// A prepared one may keep the generic plan it made in its first calls, and while
    /// `deliveries` was nearly empty that plan is a sequential scan; kept as the table grew
    /// (until an analyze, which a server with autovacuum off never runs) it cost 47 ms a call
    /// at 100,000 deliveries and a whole core under load (BENCHMARKS.md, issue 19). Planning it
    /// costs ~0.1 ms per claim of up to 32 parts.
    async fn delivery_contexts(
        self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, serde_json::Value>, StoreError> {
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        let sql = format!(
            "SELECT id, context FROM deliveries WHERE {}",
            in_ids(self.store.dialect, "id", 1)
        );
        let mut out = std::collections::HashMap::new();
        for r in sqlx::query(&sql)
            .persistent(false)
            .bind(json(&unique)?)
            .fetch_all(&self.store.pool)
            .await?
        {
            let id: String = r.try_get(0)?;
            let ctx: String = r.try_get(1)?;
            out.insert(id, serde_json::from_str(&ctx).unwrap_or_default());
        }
        Ok(out)
    }
}

/// A claimed row with the keys it is handed out by.
struct Claimed {
    priority: i64,
    due: i64,
    id: String,
    tenant: String,
    /// Its place among the same tenant's parts of the same priority in this claim.
    turn: i64,
    row: AnyRow,
}

impl Outbox<'_> {
    /// Extends the leases of parts a live worker still holds (claimed, not yet completed), so a
    /// slow call or a long wait for the lane's pace never lets the sweeper hand the part to
    /// another worker while this one may still send it. A worker that dies stops renewing, and
    /// its parts are rescued one lease later. `tokens` are claim tokens (one per claim batch).
    pub async fn renew_leases(
        self,
        owner: &str,
        tokens: &[String],
        lease_ms: i64,
    ) -> Result<u64, StoreError> {
        if tokens.is_empty() {
            return Ok(0);
        }
        let now = self.store.now_ms();
        // Only rows nobody else has locked: a part locked now is being completed (or swept),
        // and needs no longer lease. Renewal used to wait on such a row while holding others,
        // and deadlocked with the completion batch that held it and wanted one of those (both
        // failed and were retried a second later; seen under load, BENCHMARKS.md issue 19).
        let lock = match self.store.dialect {
            crate::Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE parts SET lease_until = $1 WHERE id IN (SELECT id FROM parts \
             WHERE status = 'sending' AND lease_owner = $2 AND {} {lock})",
            in_ids(self.store.dialect, "lease_token", 3)
        );
        let renewed = sqlx::query(&sql)
            .bind(now + lease_ms)
            .bind(owner)
            .bind(json(tokens)?)
            .execute(&self.store.pool)
            .await?
            .rows_affected();
        Ok(renewed)
    }
}
