//! Time is injected so tests can drive it: leases, back-offs, expiry and quota days all read a
//! [`Clock`] instead of the system time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

/// A source of wall-clock time in unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in milliseconds since the unix epoch.
    fn now_ms(&self) -> i64;

    /// Now, as a UTC date-time.
    fn now(&self) -> DateTime<Utc> {
        ms_to_datetime(self.now_ms())
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to; for tests. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `ms`.
    pub fn new(ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(ms)))
    }

    /// Moves time forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Another clock shifted by a fixed number of milliseconds. The binary wraps the system clock
/// in one when `NOTIFY_CLOCK_OFFSET_MS` is set, so tests that run the real process can move its
/// day (the Xiaowei quota day, expiry) together with the simulator's `/_sim/clock`, or skew one
/// replica against the others.
#[derive(Debug, Clone)]
pub struct OffsetClock<C> {
    inner: C,
    offset_ms: i64,
}

impl<C: Clock> OffsetClock<C> {
    /// `inner` shifted by `offset_ms` (negative: behind).
    pub fn new(inner: C, offset_ms: i64) -> Self {
        Self { inner, offset_ms }
    }

    /// The shift.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }
}

impl<C: Clock> Clock for OffsetClock<C> {
    fn now_ms(&self) -> i64 {
        self.inner.now_ms().saturating_add(self.offset_ms)
    }
}

/// Unix milliseconds to a UTC date-time (saturating at the epoch for out-of-range values).
pub fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// RFC 3339 text of unix milliseconds, as the API shows times.
pub fn ms_to_rfc3339(ms: i64) -> String {
    ms_to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The Asia/Shanghai calendar day (UTC+8, no daylight saving) of a unix-ms instant, as
/// days since the epoch. Xiaowei's daily quota counts per such day.
pub fn shanghai_day(ms: i64) -> i64 {
    const OFFSET_MS: i64 = 8 * 3600 * 1000;
    (ms + OFFSET_MS).div_euclid(86_400_000)
}

/// The first instant (unix ms) of a Shanghai day number.
pub fn shanghai_day_start_ms(day: i64) -> i64 {
    const OFFSET_MS: i64 = 8 * 3600 * 1000;
    day * 86_400_000 - OFFSET_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_day_turns_at_utc_sixteen() {
        // 2026-11-23T15:59:59.999Z is 23:59:59.999 in Shanghai; one ms later is the next day.
        let before = Utc
            .with_ymd_and_hms(2026, 11, 23, 15, 59, 59)
            .unwrap()
            .timestamp_millis()
            + 999;
        assert_eq!(shanghai_day(before) + 1, shanghai_day(before + 1));
        assert_eq!(shanghai_day_start_ms(shanghai_day(before + 1)), before + 1);
    }

    #[test]
    fn an_offset_clock_moves_with_its_inner_clock() {
        let inner = ManualClock::new(1_000);
        let c = OffsetClock::new(inner.clone(), 86_400_000);
        assert_eq!(c.now_ms(), 86_401_000);
        inner.advance_ms(5);
        assert_eq!(c.now_ms(), 86_401_005);
        assert_eq!(OffsetClock::new(inner, -2_000).now_ms(), -995);
    }

    #[test]
    fn manual_clock_is_shared_between_clones() {
        let c = ManualClock::new(1_000);
        let d = c.clone();
        c.advance_ms(500);
        assert_eq!(d.now_ms(), 1_500);
    }
}
