//! Reads behind the sweeper's alerting gauges (`deploy/prometheus/alerts.yml`): how long the
//! longest-waiting due part of each lane has waited, which credentials upstream rejected, and
//! how many replicas are alive. Each runs every few seconds on every replica, so each reads
//! only what is open or current, never the history retention keeps:
//!
//! - [`Monitoring::lane_oldest_due`] reads the queued parts only, through the partial index
//!   `parts_claim_tenant` (`WHERE status = 'queued'`, which holds `lane` and `next_attempt_at`):
//!   an index-only scan of the open queue, like the queued count of [`Reads::lane_depths`];
//!   finished parts are not in that index, however many there are. Plan on Postgres with
//!   2,000 queued among 400,000 parts: `GroupAggregate <- Index Only Scan using
//!   parts_claim_tenant (Index Cond: next_attempt_at <= $1), Heap Fetches: 0`, 0.5 ms.
//! - The calls per lane in the last minute come from [`Reads::lane_calls_since`] (`reads.rs`,
//!   shared with `GET /v1/channels`): a range scan of the `attempts_at` index over the last
//!   60 s, at most a minute of calls (the lanes' caps), whatever the log's length.
//! - [`Monitoring::rejected_credentials`] and [`Monitoring::live_replicas`] read `tokens` (one
//!   row per credential) and `replicas` (one row per live or recently stopped replica).
//!
//! The console's reads (`activity.rs`) are on the same handle.
//!
//! [`Reads::lane_depths`]: crate::Reads::lane_depths
//! [`Reads::lane_calls_since`]: crate::Reads::lane_calls_since

use crate::{Store, StoreError};

/// The monitoring role ([`Store::monitoring`]): the aggregate reads behind operators' views,
/// each costing what the open queue or a recent window holds, never what history holds — the
/// sweeper's alerting gauges here (used by `notify-dispatch`) and the console's **Now** view
/// in `activity.rs` (used by `notify-console`). They are kept apart from [`crate::reads::Reads`]
/// so the console, which shows only these aggregates, sees no message, body or delivery.
#[derive(Debug, Clone, Copy)]
pub struct Monitoring<'s> {
    pub(crate) store: &'s Store,
}

impl Monitoring<'_> {
    /// Per lane with queued parts due at `now_ms`, the earliest due time among them (unix ms).
    /// Parts waiting for a retry, a `not_before` or the next quota day are not due yet and do
    /// not count: the age `now - due` is how long work ready to go has waited for a call.
    pub async fn lane_oldest_due(self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT lane, MIN(next_attempt_at) FROM parts \
             WHERE status = 'queued' AND next_attempt_at <= $1 GROUP BY lane ORDER BY lane",
        )
        .bind(now_ms)
        .fetch_all(&self.store.pool)
        .await?)
    }

    /// Credentials whose token fetch upstream refused (`10007`, `41403`, `40001`…), with the
    /// code: the gateway stops fetching for them until the secret is fixed.
    pub async fn rejected_credentials(self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT credential, rejected_code FROM tokens \
             WHERE rejected_code IS NOT NULL ORDER BY credential",
        )
        .fetch_all(&self.store.pool)
        .await?)
    }

    /// Replicas whose heartbeat ([`Lanes::heartbeat`](crate::Lanes::heartbeat)) is live at
    /// `now_ms`.
    pub async fn live_replicas(self, now_ms: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE seen_until >= $1")
                .bind(now_ms)
                .fetch_one(&self.store.pool)
                .await?,
        )
    }
}
