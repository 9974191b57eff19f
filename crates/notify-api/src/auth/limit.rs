//! Per-caller request limits (`max_per_second`).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

/// One caller's limiter; no limit when `max_per_second` is 0.
#[derive(Debug)]
pub struct ClientLimiter(Option<DefaultDirectRateLimiter>);

impl ClientLimiter {
    /// A limiter letting `per_second` requests through each second (bursts up to that).
    pub fn new(per_second: u32) -> Self {
        Self(
            NonZeroU32::new(per_second)
                .map(|n| DefaultDirectRateLimiter::direct(Quota::per_second(n))),
        )
    }

    /// `Ok` when the request may pass; else the seconds to wait (at least 1).
    pub fn check(&self) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit_and_a_limit_refuses_the_excess() {
        let none = ClientLimiter::new(0);
        assert!((0..1000).all(|_| none.check().is_ok()));
        let two = ClientLimiter::new(2);
        assert!(two.check().is_ok());
        assert!(two.check().is_ok());
        assert!(matches!(two.check(), Err(s) if s >= 1));
    }
}
