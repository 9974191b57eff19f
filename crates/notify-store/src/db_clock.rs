//! Time from the database. Leases written by one replica are read by another's sweeper,
//! `next_attempt_at` written by one is claimed by another, and the Xiaowei quota day must be the
//! same for all: so every replica reads one clock, the database's. Asking the database at every
//! reading would cost a round trip, so the offset between the host's clock and the database's is
//! measured at start and every half minute, and readings are the host's clock plus that offset.
//! A replica whose host clock is minutes off then still agrees with the others (issue 8's skew
//! scenario). On SQLite (one process, one host) the offset is zero.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use notify_core::Clock;

use crate::{Dialect, Store, StoreError};

/// The host clock corrected to the database's, plus an optional test shift.
#[derive(Debug)]
pub struct DatabaseClock {
    host: Arc<dyn Clock>,
    offset_ms: AtomicI64,
    travel_ms: i64,
}

impl DatabaseClock {
    /// A clock reading `host` until [`DatabaseClock::calibrate`] measures the database's
    /// offset. `travel_ms` moves the gateway's time on purpose (tests that simulate a day
    /// change); production passes 0.
    pub fn new(host: Arc<dyn Clock>, travel_ms: i64) -> Self {
        Self {
            host,
            offset_ms: AtomicI64::new(0),
            travel_ms,
        }
    }

    /// Measures the database's clock against the host's (midpoint of the round trip) and keeps
    /// the difference. Returns it.
    pub async fn calibrate(&self, store: &Store) -> Result<i64, StoreError> {
        if store.dialect() != Dialect::Postgres {
            return Ok(0);
        }
        let before = self.host.now_ms();
        let db: i64 = sqlx::query_scalar(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        )
        .fetch_one(&store.pool)
        .await?;
        let after = self.host.now_ms();
        let offset = db - (before + after) / 2;
        self.offset_ms.store(offset, Ordering::Relaxed);
        Ok(offset)
    }

    /// The measured offset (database minus host).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

impl Clock for DatabaseClock {
    fn now_ms(&self) -> i64 {
        self.host
            .now_ms()
            .saturating_add(self.offset_ms.load(Ordering::Relaxed))
            .saturating_add(self.travel_ms)
    }
}
