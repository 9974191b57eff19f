//! The simulator's two clocks.
//!
//! Wall time (`now_ms`) is system time plus a settable offset: Xiaowei's calendar day, token
//! expiries, media lifetimes, OAuth code expiry and the 24 h recall windows read it, so tests
//! can jump a day without sleeping. The sliding-window caps read a separate monotonic clock
//! (`mono_us`) so that moving the wall clock never opens or closes a rate window; it can only
//! be pushed forward (`advance_mono`), which lets a test age a window without sleeping.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{FixedOffset, NaiveDate, TimeZone};

/// Wall clock with an offset, and a monotonic clock that can only move forward.
pub(crate) struct SimClock {
    offset_ms: AtomicI64,
    base: Instant,
    mono_offset_us: AtomicU64,
}

impl SimClock {
    pub fn new() -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            base: Instant::now(),
            mono_offset_us: AtomicU64::new(0),
        }
    }

    fn system_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Simulated wall time, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        Self::system_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Monotonic microseconds since the simulator started (plus any `advance_mono`).
    pub fn mono_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64 + self.mono_offset_us.load(Ordering::Relaxed)
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn set_offset_ms(&self, offset: i64) {
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    pub fn advance_ms(&self, by: i64) {
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
    }

    /// Makes `now_ms()` return `unix_ms` now (and move on from there).
    pub fn set_now_ms(&self, unix_ms: i64) {
        self.set_offset_ms(unix_ms - Self::system_ms());
    }

    pub fn advance_mono_ms(&self, by: u64) {
        self.mono_offset_us
            .fetch_add(by.saturating_mul(1000), Ordering::Relaxed);
    }

    /// Back to system time. The monotonic offset stays: it must never go backwards, or the
    /// windows recorded before would lie in the future.
    pub fn reset(&self) {
        self.set_offset_ms(0);
    }
}

/// UTC+8, China's only zone (no daylight saving), which Xiaowei's "per day" means.
pub(crate) const SHANGHAI: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(o) => o,
    // Checked at compile time: east_opt only fails outside ±24 h.
    None => panic!("UTC+8 is a valid offset"),
};

/// The Asia/Shanghai calendar day of a unix-ms instant.
pub(crate) fn shanghai_date(unix_ms: i64) -> NaiveDate {
    match SHANGHAI.timestamp_millis_opt(unix_ms) {
        chrono::LocalResult::Single(t) => t.date_naive(),
        _ => NaiveDate::default(),
    }
}

/// RFC 3339 rendering of a unix-ms instant in UTC+8, for the call page.
pub(crate) fn shanghai_time(unix_ms: i64) -> String {
    match SHANGHAI.timestamp_millis_opt(unix_ms) {
        chrono::LocalResult::Single(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        _ => unix_ms.to_string(),
    }
}
