//! Daily quotas (Xiaowei: 100 calls per enterprise per Asia/Shanghai day). A slot is reserved
//! before the call and never given back, so an unknown outcome or a crash counts as used and
//! the day can never see more calls than the quota.
//!
//! A day is keyed by what the quota belongs to — for Xiaowei the enterprise
//! (`ChannelHandle::quota_key`: `welink:<enterprise>`), which several channels with different
//! credentials may share — not by the calling channel's credential. (The column keeps its
//! name `credential`: with no `enterprise` configured the two keys are the same.)

use crate::{Store, StoreError};

/// The daily-quota role ([`Store::quota`]): reserving a call on a quota day, closing a day,
/// and reading what a day used. Used by `notify-dispatch` (admission, settlement, gauges) and
/// `notify-api` (`GET /v1/channels` shows the day's use).
#[derive(Debug, Clone, Copy)]
pub struct Quota<'s> {
    pub(crate) store: &'s Store,
}

impl Quota<'_> {
    /// Reserves one call on `day` for the quota `credential` (the quota's key) if fewer than
    /// `limit` are used and the day is not closed.
    pub async fn reserve_quota(
        self,
        credential: &str,
        day: i64,
        limit: i64,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "INSERT INTO quota_days (credential, day) VALUES ($1, $2) ON CONFLICT (credential, day) DO NOTHING",
        )
        .bind(credential)
        .bind(day)
        .execute(&self.store.pool)
        .await?;
        let n = sqlx::query(
            "UPDATE quota_days SET used = used + 1 WHERE credential = $1 AND day = $2 AND used < $3 AND closed = 0",
        )
        .bind(credential)
        .bind(day)
        .bind(limit)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Closes a day (upstream said the quota is spent: Xiaowei `58604`).
    pub async fn close_quota_day(self, credential: &str, day: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO quota_days (credential, day, closed) VALUES ($1, $2, 1) \
             ON CONFLICT (credential, day) DO UPDATE SET closed = 1",
        )
        .bind(credential)
        .bind(day)
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }

    /// Calls reserved on a day, and whether it is closed.
    pub async fn quota_used(self, credential: &str, day: i64) -> Result<(i64, bool), StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT used, closed FROM quota_days WHERE credential = $1 AND day = $2",
        )
        .bind(credential)
        .bind(day)
        .fetch_optional(&self.store.pool)
        .await?;
        Ok(row.map(|(u, c)| (u, c != 0)).unwrap_or((0, false)))
    }
}
