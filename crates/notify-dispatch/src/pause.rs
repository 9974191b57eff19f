//! Pauses and probes. A rate-limit answer pauses its lane (and, when several lanes of one
//! egress group meet it at once, the whole group); after a pause one probe call goes before
//! the lane opens again, and a success lifts the pause.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::decide::LaneSignal;
use crate::lane::{GroupState, LaneState};
use crate::Dispatcher;

/// The cap of a `48503`/`58602` pause. The caps behind those codes are 1 s, 20 s and 60 s
/// sliding windows, but a lane that probes every 8 s at most spends one call per 8 s on a
/// storm and is back at full speed within 8 s of its end (the issue asks for 10 s).
const PAUSE_CAP: Duration = Duration::from_secs(8);
/// WeCom `45009` blocks for the rest of the minute or hour: a longer cap.
const PAUSE_CAP_LONG: Duration = Duration::from_secs(600);
/// `48503` from this many lanes of one egress group within [`GROUP_STORM_WINDOW_MS`] is the
/// per-IP cap answering, not one lane's: the whole group pauses.
const GROUP_STORM_LANES: usize = 2;
const GROUP_STORM_WINDOW_MS: i64 = 2_000;

/// Releases a group's probe token when the probe is over, however it ended.
pub(crate) struct ProbeToken<'a>(Option<&'a GroupState>);

impl Drop for ProbeToken<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.0 {
            g.probe_taken.store(false, Ordering::SeqCst);
            g.changed.notify_waiters();
        }
    }
}

/// What a lane may claim next.
pub(crate) enum Turn<'a> {
    /// A full batch: nothing to probe.
    Open,
    /// One probe call; the token (the group's probe, if it is one) is held until it is over.
    Probe(ProbeToken<'a>),
    /// Another lane of the group is sending the group's probe: wait for it.
    WaitForGroupProbe,
}

/// After a pause, one probe call before the lane opens again: the lane's own probe, or the
/// group's, which one lane of the group at a time may send.
pub(crate) fn turn(state: &LaneState) -> Turn<'_> {
    let lane_probe = state.pause.lock().probing;
    let group = state.group.as_deref().filter(|g| g.pause.lock().probing);
    match group {
        Some(g) if g.probe_taken.swap(true, Ordering::SeqCst) => Turn::WaitForGroupProbe,
        Some(g) => Turn::Probe(ProbeToken(Some(g))),
        None if lane_probe => Turn::Probe(ProbeToken(None)),
        None => Turn::Open,
    }
}

impl Dispatcher {
    /// What the lane learns from a call: a success lifts its pause (and its group's probe), a
    /// rate limit pauses it.
    pub(crate) fn learn(&self, state: &LaneState, signal: LaneSignal) {
        match signal {
            LaneSignal::Success => self.lift_pause(state),
            LaneSignal::RateLimited(initial) => self.pause_after_rate_limit(state, initial),
            LaneSignal::Neutral => {}
        }
    }

    fn lift_pause(&self, state: &LaneState) {
        let was_paused = {
            let mut p = state.pause.lock();
            let was = p.probing;
            p.succeeded();
            was
        };
        if let Some(g) = &state.group {
            let mut gp = g.pause.lock();
            if gp.probing {
                gp.succeeded();
                g.changed.notify_waiters();
            }
        }
        if was_paused {
            let store = self.store.clone();
            let lane = state.info.lane.clone();
            tokio::spawn(async move {
                let _ = store.lanes().pause_lane(&lane, 0, 0, false).await;
            });
        }
    }

    fn pause_after_rate_limit(&self, state: &LaneState, initial: Duration) {
        let now = self.store.now_ms();
        let cap = if initial >= Duration::from_secs(30) {
            PAUSE_CAP_LONG
        } else {
            PAUSE_CAP
        };
        let (until, step) = {
            let mut p = state.pause.lock();
            let until = p.rate_limited(now, initial, cap);
            (until, p.step_ms())
        };
        tracing::warn!(lane = %state.info.lane, pause_ms = step, "rate-limited upstream; lane paused");
        let store = self.store.clone();
        let lane = state.info.lane.clone();
        tokio::spawn(async move {
            let _ = store.lanes().pause_lane(&lane, until, step, true).await;
        });
        if let Some(g) = &state.group {
            pause_group_in_a_storm(g, &state.info.lane, now, initial, cap);
        }
    }
}

/// `48503` from several lanes of one egress group at once is the per-IP cap: the whole group
/// pauses.
fn pause_group_in_a_storm(g: &GroupState, lane: &str, now: i64, initial: Duration, cap: Duration) {
    let storm = {
        let mut recent = g.recent_limited.lock();
        recent.retain(|(_, t)| *t > now - GROUP_STORM_WINDOW_MS);
        recent.push((lane.to_string(), now));
        let lanes: HashSet<&String> = recent.iter().map(|(l, _)| l).collect();
        lanes.len() >= GROUP_STORM_LANES
    };
    let mut gp = g.pause.lock();
    // A group already paused learns from each further answer only once per step, so one
    // storm doubles the step once, not once per lane.
    if (storm || gp.probing) && gp.until_ms <= now {
        let until = gp.rate_limited(now, initial, cap);
        tracing::warn!(
            lanes = GROUP_STORM_LANES,
            until,
            "rate limits on several lanes of one egress group: the group pauses"
        );
        g.changed.notify_waiters();
    }
}
