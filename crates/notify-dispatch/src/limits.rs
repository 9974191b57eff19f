//! In-process rate limiters. A lane's limiter is the global one because one replica owns the
//! lane (and, for WeLink, its whole egress group) at a time.
//!
//! GCRA (governor) admits `burst + ⌊W·rate⌋` calls in the worst window of length W, so a quota
//! of "1500 per minute" with its natural burst admits ~3000 in some minute. To keep the
//! documented *sliding-window* caps exactly, the burst is 1 and the rate is set so that
//! `1 + 60·rate ≤ per_minute` and `1 + rate ≤ per_second`: for WeLink that is 1499/60 ≈ 24.98
//! calls/s, 99.9 % of the 1500/min cap, and at most 25 calls in any second (cap 40). The egress
//! group's 3000 per 20 s becomes `1 + 20·rate ≤ 3000`: ≈ 149.95 calls/s.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use notify_channels::{MemberLimits, RateLimits};
use parking_lot::Mutex;

/// A direct (unkeyed) GCRA limiter.
pub type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// The limiter that keeps `limits` in every sliding 1 s and 60 s window.
pub fn lane_limiter(limits: RateLimits) -> Arc<Limiter> {
    let per_minute_rate = (f64::from(limits.per_minute) - 1.0).max(1.0) / 60.0;
    let per_second_rate = (f64::from(limits.per_second) - 1.0).max(1.0);
    Arc::new(limiter_at(per_minute_rate.min(per_second_rate)))
}

/// The limiter that keeps `calls` in every sliding window of `window`.
pub fn window_limiter(calls: u32, window: Duration) -> Arc<Limiter> {
    let rate = (f64::from(calls) - 1.0).max(1.0) / window.as_secs_f64();
    Arc::new(limiter_at(rate))
}

fn limiter_at(rate_per_s: f64) -> Limiter {
    let period = Duration::from_secs_f64(1.0 / rate_per_s);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    RateLimiter::direct(quota)
}

/// Sliding-window counts of messages per WeCom member (WeCom drops the excess silently, so the
/// gateway holds it back instead).
#[derive(Debug, Default)]
pub struct MemberWindows {
    sent: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl MemberWindows {
    /// If every member in `members` may receive one more message at `now_ms`, records it for all
    /// and returns `None`; otherwise records nothing and returns when the earliest blocked member
    /// frees up.
    pub fn admit(
        &self,
        key: &str,
        members: &[String],
        limits: MemberLimits,
        now_ms: i64,
    ) -> Option<i64> {
        let mut sent = self.sent.lock();
        let mut wait_until: Option<i64> = None;
        for m in members {
            let k = format!("{key}\u{1f}{}", m.to_lowercase());
            let q = sent.entry(k).or_default();
            while q.front().is_some_and(|t| *t <= now_ms - 3_600_000) {
                q.pop_front();
            }
            let in_minute = q.iter().filter(|t| **t > now_ms - 60_000).count();
            if in_minute >= limits.per_minute as usize {
                let free = q
                    .iter()
                    .rev()
                    .nth(limits.per_minute as usize - 1)
                    .copied()
                    .unwrap_or(now_ms)
                    + 60_000;
                wait_until = Some(wait_until.map_or(free, |w: i64| w.max(free)));
            }
            if q.len() >= limits.per_hour as usize {
                let free = q
                    .iter()
                    .rev()
                    .nth(limits.per_hour as usize - 1)
                    .copied()
                    .unwrap_or(now_ms)
                    + 3_600_000;
                wait_until = Some(wait_until.map_or(free, |w: i64| w.max(free)));
            }
        }
        if wait_until.is_some() {
            return wait_until;
        }
        for m in members {
            let k = format!("{key}\u{1f}{}", m.to_lowercase());
            sent.entry(k).or_default().push_back(now_ms);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_over_thirty_a_minute_waits() {
        let w = MemberWindows::default();
        let lim = MemberLimits {
            per_minute: 30,
            per_hour: 1000,
        };
        let m = vec!["ZhangSan".to_string()];
        for i in 0..30 {
            assert_eq!(w.admit("c", &m, lim, 1_000 + i), None);
        }
        assert_eq!(
            w.admit("c", &["zhangsan".to_string()], lim, 2_000),
            Some(61_000),
            "ids compare case-insensitively"
        );
        assert_eq!(w.admit("c", &m, lim, 61_000), None);
    }

    #[test]
    fn the_lane_limiter_admits_one_call_at_once() {
        let l = lane_limiter(RateLimits {
            per_second: 40,
            per_minute: 1500,
        });
        assert!(l.check().is_ok());
        assert!(
            l.check().is_err(),
            "burst of one: the second call waits ~40 ms"
        );
    }
}
