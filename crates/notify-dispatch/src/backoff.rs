//! Retry timing: exponential back-off with full jitter for failed calls, and the pause of a
//! rate-limited lane.

use std::time::Duration;

use rand::Rng;

/// Exponential back-off with full jitter (AWS architecture blog): a random wait in
/// `[0, min(max, base · 2^attempt)]`, so many failed calls do not retry in lock-step.
pub fn full_jitter(base: Duration, max: Duration, attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.clamp(0, 30)).unwrap_or(30);
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(max)
        .as_millis() as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
}

/// A lane's rate-limit pause: starts at the code's first step, doubles on each further
/// rate-limit answer up to `cap`, and resets after a success.
#[derive(Debug, Clone, Default)]
pub struct LanePause {
    step: Option<Duration>,
    /// Paused until (unix ms); 0 when open.
    pub until_ms: i64,
    /// The next call after a pause is a single probe.
    pub probing: bool,
}

impl LanePause {
    /// Records a rate-limit answer at `now_ms`; returns the pause end.
    pub fn rate_limited(&mut self, now_ms: i64, initial: Duration, cap: Duration) -> i64 {
        let step = match self.step {
            None => initial,
            Some(s) => (s * 2).min(cap),
        };
        self.step = Some(step);
        self.until_ms = now_ms + step.as_millis() as i64;
        self.probing = true;
        self.until_ms
    }

    /// Records a success: the lane opens fully.
    pub fn succeeded(&mut self) {
        self.step = None;
        self.until_ms = 0;
        self.probing = false;
    }

    /// The current step, for display.
    pub fn step_ms(&self) -> i64 {
        self.step.map(|s| s.as_millis() as i64).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_under_the_ceiling() {
        for attempt in 0..40 {
            let d = full_jitter(Duration::from_secs(1), Duration::from_secs(600), attempt);
            assert!(d <= Duration::from_secs(600));
            if attempt == 0 {
                assert!(d <= Duration::from_secs(1));
            }
        }
    }

    #[test]
    fn pause_doubles_to_the_cap_and_resets() {
        let mut p = LanePause::default();
        let s = Duration::from_secs(1);
        let cap = Duration::from_secs(4);
        assert_eq!(p.rate_limited(0, s, cap), 1_000);
        assert_eq!(p.rate_limited(0, s, cap), 2_000);
        assert_eq!(p.rate_limited(0, s, cap), 4_000);
        assert_eq!(p.rate_limited(0, s, cap), 4_000);
        p.succeeded();
        assert_eq!(p.rate_limited(0, s, cap), 1_000);
    }
}
