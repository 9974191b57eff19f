//! In-process rate limits. A lane's pace is the global one because one replica owns the lane
//! (and, for WeLink, its whole egress group) at a time.
//!
//! # Why the numbers are what they are
//!
//! A GCRA with burst `b` and rate `r` admits `b + ⌊W·r⌋` calls in its worst window of length W,
//! so `governor`'s "1500 per minute" (burst 1500) admits ~3000 calls in some minute. The caps
//! upstream are *sliding* windows, so the burst here is 1: a [`Pace`] spaces calls at least one
//! period apart, and any window W then holds at most `1 + ⌊W/period⌋` of them.
//!
//! The window upstream sees is not the window the pace saw: a call is reserved, then waits for
//! its task, a pooled connection and the network. If the first call of a window is delayed by
//! up to [`ARRIVAL_JITTER`] more than the last, upstream sees the calls of a `W + J` window in
//! its `W` window. So the period is chosen with `1 + (W + J)·rate ≤ cap` for every window:
//!
//! | cap | W | rate with J = 0.5 s | share of the cap |
//! |---|---|---|---|
//! | 1500 per lane | 60 s | 1499 / 60.5 s = 24.78/s = 1486.6/min | 99.1 % |
//! | 40 per lane | 1 s | 39 / 1.5 s = 26/s (not binding) | — |
//! | 3000 per egress group (IP) | 20 s | 2999 / 20.5 s = 146.3/s | 97.5 % |
//!
//! The target is ≥ 98 % of 1500/min per lane with zero `48503`; 99.1 % leaves 13 calls
//! per minute of headroom for arrival jitter on a busy machine.
//!
//! The room is for the cap *upstream* enforces. A lane configured under its kind's documented
//! cap (`limits = { per_second = 25 }` under WeLink's 40) is the operator's own pace: it gets
//! `cap / W` at its slots (at most `cap` slots in any `(t − W, t]`), bounded by the documented
//! cap with its room. Taking the room off the configured 25 as well made the lane 24 / 1.5 s =
//! 16 calls/s — two thirds of what it was configured for, with upstream's cap far away. A
//! configured cap at or above the documented one, or for a kind that documents none, is taken
//! as upstream's own and keeps the room.
//!
//! A call must pass its lane and its egress group *at the same instant*: waiting for one and
//! then the other lets the second bunch calls the first had spaced out. [`pace`] books a call
//! in all of them under their locks, and only at the present instant: and the lane's own
//! callers take turns, so a lane does not hold a future group slot that other lanes then queue
//! behind.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify_channels::RateLimits;
use parking_lot::Mutex;
use tokio::time::Instant;

/// How much later than its successors a call may reach upstream and still be counted in the
/// right window (see the module comment).
pub const ARRIVAL_JITTER: Duration = Duration::from_millis(500);

/// The documented per-IP cap of WeLink hosts: 3000 calls in any 20 s (guide 2.2.1.4).
pub const EGRESS_CALLS: u32 = 3000;
/// The per-IP window.
pub const EGRESS_WINDOW: Duration = Duration::from_secs(20);

/// A GCRA with a burst of one: calls at least `period` apart.
#[derive(Debug)]
pub struct Pace {
    period: Duration,
    next: Mutex<Instant>,
    /// The callers of a lane queue here, so one at a time waits for the lane's next slot.
    turn: tokio::sync::Mutex<()>,
}

impl Pace {
    /// The pace that keeps `calls` in every sliding window of `window`, allowing for
    /// [`ARRIVAL_JITTER`].
    pub fn window(calls: u32, window: Duration) -> Self {
        Self::at_rate(window_rate(calls, window))
    }

    /// The pace that keeps a lane's `limits` in every sliding 1 s and 60 s window, and its
    /// kind's `documented` caps (when it documents any) upstream, allowing for
    /// [`ARRIVAL_JITTER`] (see the module comment for which of the two gets the room).
    pub fn lane(limits: RateLimits, documented: Option<RateLimits>) -> Self {
        let cap = |f: fn(&RateLimits) -> u32, window: Duration| {
            lane_window_rate(f(&limits), documented.as_ref().map(f), window)
        };
        let per_second = cap(|l| l.per_second, Duration::from_secs(1));
        let per_minute = cap(|l| l.per_minute, Duration::from_secs(60));
        Self::at_rate(per_second.min(per_minute))
    }

    fn at_rate(rate_per_s: f64) -> Self {
        // Rounded up to the nanosecond: a period a hair short would let `cap + 1` slots into
        // a window at exactly `cap / W`.
        let nanos = (1e9 / rate_per_s.max(1e-6)).ceil();
        Self {
            period: Duration::from_nanos(nanos as u64),
            next: Mutex::new(Instant::now()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// The spacing between calls.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Calls per minute this pace allows at most, sustained.
    pub fn per_minute(&self) -> f64 {
        60.0 / self.period.as_secs_f64()
    }

    /// Treats the pace as having just admitted a call: the next one waits a full period. A
    /// replica that takes over a lane starts this way (see the dispatcher's `ownership.rs`).
    pub fn spend_burst(&self) {
        let mut next = self.next.lock();
        *next = (*next).max(Instant::now() + self.period);
    }
}

/// The largest rate with `1 + (window + J)·rate ≤ calls`.
fn window_rate(calls: u32, window: Duration) -> f64 {
    let room = (f64::from(calls) - 1.0).max(1.0);
    room / (window + ARRIVAL_JITTER).as_secs_f64()
}

/// A lane's rate for one window: a configured cap under the documented one is kept at the
/// slots (`configured / window`: calls at least `window / configured` apart leave at most
/// `configured` in any `(t − window, t]`), and the documented cap keeps its room for jitter.
/// Otherwise the configured cap is upstream's and gets the room itself.
fn lane_window_rate(configured: u32, documented: Option<u32>, window: Duration) -> f64 {
    match documented {
        Some(documented) if configured < documented => {
            let own = f64::from(configured.max(1)) / window.as_secs_f64();
            own.min(window_rate(documented, window))
        }
        _ => window_rate(configured, window),
    }
}

/// Books now in every pace of `paces` if all of them allow a call now; otherwise books nothing
/// and returns the earliest instant worth trying again. Slots are only ever booked for the
/// present: booking a future slot in the egress group would make every other lane of the group
/// queue behind it, even lanes that are free now.
pub fn try_book(paces: &[&Pace]) -> Result<Instant, Instant> {
    let mut guards: Vec<_> = paces.iter().map(|p| p.next.lock()).collect();
    let now = Instant::now();
    let Some(at) = guards.iter().map(|g| **g).max() else {
        return Ok(now);
    };
    if at > now {
        return Err(at);
    }
    // A waiter wakes a little after its slot; booking from the slot rather than from the
    // wake-up keeps the pace's rate, and WAKE_SLACK bounds how much earlier than a period the
    // next call may then come (it is far inside ARRIVAL_JITTER).
    let slot = at.max(now.checked_sub(WAKE_SLACK).unwrap_or(now));
    for (g, p) in guards.iter_mut().zip(paces) {
        **g = slot + p.period;
    }
    Ok(slot)
}

/// How late a waiter may wake for its slot without the pace losing the time.
const WAKE_SLACK: Duration = Duration::from_millis(2);

/// Waits until every pace of `paces` allows a call and books it in all of them at once. The
/// callers of the first pace (the lane; then its egress group) take turns, so a lane's calls
/// queue in order and only one of them at a time competes for the group's slots.
pub async fn pace(paces: &[&Pace]) {
    let _turn = match paces.first() {
        Some(p) => Some(p.turn.lock().await),
        None => None,
    };
    loop {
        match try_book(paces) {
            Ok(_) => return,
            Err(at) => tokio::time::sleep_until(at).await,
        }
    }
}

/// The paces of this replica: one per lane (credential × interface, token fetches included)
/// and one per egress group. Shared by the lane runners and the token manager.
#[derive(Debug, Default)]
pub struct Paces {
    lanes: Mutex<HashMap<String, Arc<Pace>>>,
    groups: Mutex<HashMap<String, Arc<Pace>>>,
}

impl Paces {
    /// The pace of `lane`, created with `limits` under the `documented` caps on first use
    /// (see [`Pace::lane`]).
    pub fn lane(
        &self,
        lane: &str,
        limits: RateLimits,
        documented: Option<RateLimits>,
    ) -> Arc<Pace> {
        self.lanes
            .lock()
            .entry(lane.to_string())
            .or_insert_with(|| Arc::new(Pace::lane(limits, documented)))
            .clone()
    }

    /// The pace of egress group `group` (3000 calls per 20 s).
    pub fn group(&self, group: &str) -> Arc<Pace> {
        self.groups
            .lock()
            .entry(group.to_string())
            .or_insert_with(|| Arc::new(Pace::window(EGRESS_CALLS, EGRESS_WINDOW)))
            .clone()
    }

    /// A replica that just took a unit over spends the burst of its paces (the dispatcher's
    /// `ownership.rs`).
    pub fn spend_group_burst(&self, group: &str) {
        self.group(group).spend_burst();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welink_paces_keep_the_sliding_caps_with_room_for_jitter() {
        let lane = Pace::lane(WELINK, Some(WELINK));
        let rate = 1.0 / lane.period().as_secs_f64();
        // Worst window upstream: W + J of reservations, plus the first call.
        assert!(1.0 + (60.5 * rate).floor() <= 1500.0);
        assert!(1.0 + (1.5 * rate).floor() <= 40.0);
        assert!(lane.per_minute() >= 0.98 * 1500.0, "{}", lane.per_minute());
        let group = Pace::window(EGRESS_CALLS, EGRESS_WINDOW);
        let rate = 1.0 / group.period().as_secs_f64();
        assert!(1.0 + (20.5 * rate).floor() <= 3000.0);
    }

    const WELINK: RateLimits = RateLimits {
        per_second: 40,
        per_minute: 1500,
    };

    /// Calls a lane of `pace` books in `window` from now, on tokio's paused clock.
    async fn booked_in(pace: &Pace, window: Duration) -> usize {
        let end = Instant::now() + window;
        let mut n = 0;
        loop {
            super::pace(&[pace]).await;
            if Instant::now() >= end {
                return n;
            }
            n += 1;
        }
    }

    /// The room for jitter is for upstream's cap: taken off a configured 25/s as well, it
    /// paced the lane at 24 / 1.5 s = 16/s (the 15 calls/s per lane of BENCHMARKS.md).
    #[tokio::test(start_paused = true)]
    async fn a_lane_configured_under_the_documented_caps_gets_its_own_rate() {
        let limits = RateLimits {
            per_second: 25,
            per_minute: 1500,
        };
        let lane = Pace::lane(limits, Some(WELINK));
        // 1500/min is WeLink's cap too, with its room: 24.78/s, ~99 % of 25/s.
        let n = booked_in(&lane, Duration::from_secs(4)).await;
        assert_eq!(n, 100, "{n} calls in 4 s");
        // The configured per-second cap alone: 25 in any second, at the slots.
        let own = RateLimits {
            per_second: 25,
            per_minute: 1200,
        };
        assert_eq!(
            Pace::lane(own, Some(WELINK)).period(),
            Duration::from_millis(50)
        );
        let lane = Pace::lane(
            RateLimits {
                per_second: 25,
                per_minute: 6000,
            },
            Some(RateLimits {
                per_second: 40,
                per_minute: 6000,
            }),
        );
        assert_eq!(lane.period(), Duration::from_millis(40));
        assert_eq!(booked_in(&lane, Duration::from_secs(1)).await, 25);
        // No documented cap, or a configured one at or above it: the room stays (as before).
        assert_eq!(
            Pace::lane(limits, None).period(),
            Duration::from_micros(62_500)
        );
        let raised = RateLimits {
            per_second: 50,
            per_minute: 6000,
        };
        assert_eq!(
            Pace::lane(raised, Some(WELINK)).period(),
            Pace::lane(raised, None).period()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_books_its_lane_and_group_together_and_only_now() {
        let lane_a = Pace::at_rate(10.0);
        let lane_b = Pace::at_rate(10.0);
        let group = Pace::at_rate(15.0);
        let t0 = Instant::now();
        assert_eq!(try_book(&[&lane_a, &group]), Ok(t0));
        // Lane b is free but the group is not: nothing is booked, try at the group's slot.
        assert_eq!(try_book(&[&lane_b, &group]), Err(t0 + group.period()));
        // Lane a must wait for its own period, and booking nothing it does not hold b back.
        assert_eq!(try_book(&[&lane_a, &group]), Err(t0 + lane_a.period()));
        tokio::time::advance(group.period()).await;
        assert_eq!(try_book(&[&lane_b, &group]), Ok(t0 + group.period()));
        // Waiting callers of a lane go one after another, a period apart.
        let start = Instant::now();
        for _ in 0..3 {
            pace(&[&lane_a, &group]).await;
        }
        let spent = Instant::now() - start;
        assert!(spent >= lane_a.period() * 2 && spent < lane_a.period() * 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_burst_delays_the_first_call_by_a_period() {
        let p = Pace::at_rate(4.0);
        p.spend_burst();
        assert_eq!(try_book(&[&p]), Err(Instant::now() + p.period()));
    }
}
