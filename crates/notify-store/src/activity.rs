//! What the admin console's **Now** view draws: each lane's upstream calls per minute over a
//! recent window, and the age of each lane's oldest queued part.
//!
//! Both reads cost what the recent window or the open queue holds, never what history holds:
//! the calls come from `attempts` through its `attempts_at` index (migration 0007), a range
//! scan of the window's rows joined to `parts` by primary key; the oldest queued part comes
//! from the queued parts only, which the partial `parts_claim_tenant` index (queued only)
//! serves. The count of suppressed messages reads the window's messages only, by primary key
//! (a message's id carries its accept time), like `stats` reads the window's deliveries. The
//! plans are in `docs/console.md`.
//!
//! They are on the [`Monitoring`] handle, beside the sweeper's gauges (`monitoring.rs`).

use serde::Serialize;
use sqlx::Row;

use crate::monitoring::Monitoring;
use crate::StoreError;

/// One lane's calls in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneMinute {
    /// `credential|interface`.
    pub lane: String,
    /// Start of the minute (unix ms, a multiple of 60,000).
    pub minute: i64,
    /// Upstream calls that started in it.
    pub calls: i64,
    /// The most calls that started in one second of it (the per-second peak).
    pub peak_per_second: i64,
    /// Calls answered with a rate-limit code (48503, 58602, 45009, HTTP 429).
    pub rate_limited: i64,
}

/// The oldest queued part of a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneOldest {
    /// `credential|interface`.
    pub lane: String,
    /// When its oldest queued part was created (unix ms).
    pub oldest_created_at: i64,
}

impl Monitoring<'_> {
    /// Calls per lane and minute for the minutes that start at or after `since_ms` rounded
    /// down to a minute, by every replica, with each minute's per-second peak and its
    /// rate-limit answers. Minutes without calls are left out. Ordered by lane and minute.
    pub async fn lane_minutes(self, since_ms: i64) -> Result<Vec<LaneMinute>, StoreError> {
        let since = since_ms.div_euclid(60_000) * 60_000;
        // Seconds first (for the peak), then minutes. Integer division on both backends.
        let rows = sqlx::query(
            "SELECT lane, sec / 60, CAST(SUM(n) AS BIGINT), MAX(n), CAST(SUM(rl) AS BIGINT) FROM ( \
                SELECT p.lane AS lane, a.at / 1000 AS sec, COUNT(*) AS n, \
                       SUM(CASE WHEN a.outcome = 'rate_limited' THEN 1 ELSE 0 END) AS rl \
                FROM attempts a JOIN parts p ON p.id = a.part_id \
                WHERE a.at >= $1 GROUP BY p.lane, a.at / 1000 \
             ) s GROUP BY lane, sec / 60 ORDER BY lane, sec / 60",
        )
        .bind(since)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let minute: i64 = r.try_get(1)?;
                Ok(LaneMinute {
                    lane: r.try_get(0)?,
                    minute: minute * 60_000,
                    calls: r.try_get(2)?,
                    peak_per_second: r.try_get(3)?,
                    rate_limited: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Per lane with queued parts, when the oldest of them was created.
    pub async fn oldest_queued(self) -> Result<Vec<LaneOldest>, StoreError> {
        let rows = sqlx::query(
            "SELECT lane, MIN(created_at) FROM parts WHERE status = 'queued' GROUP BY lane ORDER BY lane",
        )
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LaneOldest {
                    lane: r.try_get(0)?,
                    oldest_created_at: r.try_get(1)?,
                })
            })
            .collect()
    }

    /// Messages accepted at or after `since_ms` that storm control stored as `suppressed`
    /// (they have no deliveries, so delivery counts never show them), by every tenant.
    pub async fn suppressed_since(self, since_ms: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM messages WHERE id >= $1 AND status = 'suppressed'")
                .bind(notify_core::MessageId::first_at(since_ms).0)
                .fetch_one(&self.store.pool)
                .await?;
        Ok(row.try_get(0)?)
    }
}
