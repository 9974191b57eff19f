//! Caps (the settable limits) and exact sliding windows over call timestamps.
//!
//! A window keeps, per key, the monotonic timestamps of the calls made inside it; a call is
//! admitted when fewer than `limit` are there. The real services count every call, the ones
//! they refuse included (000 lines 722–725: "每个接口每秒能被调用的次数都有一个上限"), so a refused
//! call is stored too and a client that keeps calling into a block keeps itself blocked. The
//! per-member WeCom caps are the exception (see [`Windows::admit_each`]).

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::clock::SimClock;

/// One second, in the monotonic clock's microseconds.
pub(crate) const SECOND_US: u64 = 1_000_000;

/// The settable limits. Defaults are the documented values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Caps {
    /// WeLink, per client_id per interface, calls in any 1 s (000 lines 716–725).
    pub per_second: u64,
    /// WeLink, per client_id per interface, calls in any 60 s (000 line 725).
    pub per_minute: u64,
    /// WeLink host, per caller IP over all interfaces, calls in any 20 s (000 line 723).
    pub per_ip_20s: u64,
    /// Xiaowei calls per enterprise per Asia/Shanghai day (000 lines 750, 1523).
    pub xiaowei_daily: u64,
    /// WeCom messages per member per app in any 60 s (UPSTREAM-FACTS).
    pub member_per_minute: u64,
    /// WeCom messages per member per app in any hour (UPSTREAM-FACTS).
    pub member_per_hour: u64,
    /// WeCom calls per company per API in any 60 s (UPSTREAM-FACTS).
    pub wecom_company_per_minute: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            per_second: 40,
            per_minute: 1500,
            per_ip_20s: 3000,
            xiaowei_daily: 100,
            member_per_minute: 30,
            member_per_hour: 1000,
            wecom_company_per_minute: 10_000,
        }
    }
}

/// A partial update of [`Caps`] (`POST /_sim/caps`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CapsUpdate {
    pub per_second: Option<u64>,
    pub per_minute: Option<u64>,
    pub per_ip_20s: Option<u64>,
    pub xiaowei_daily: Option<u64>,
    pub member_per_minute: Option<u64>,
    pub member_per_hour: Option<u64>,
    pub wecom_company_per_minute: Option<u64>,
}

impl Caps {
    pub fn apply(&mut self, u: &CapsUpdate) {
        let set = |slot: &mut u64, v: Option<u64>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut self.per_second, u.per_second);
        set(&mut self.per_minute, u.per_minute);
        set(&mut self.per_ip_20s, u.per_ip_20s);
        set(&mut self.xiaowei_daily, u.xiaowei_daily);
        set(&mut self.member_per_minute, u.member_per_minute);
        set(&mut self.member_per_hour, u.member_per_hour);
        set(
            &mut self.wecom_company_per_minute,
            u.wecom_company_per_minute,
        );
    }
}

/// One window to pass: the key, its length and how many calls it holds.
pub(crate) struct Check<'a> {
    pub key: &'a str,
    pub window_us: u64,
    pub limit: u64,
}

/// All sliding windows, keyed by strings such as `s|client|/messages/v1/image`.
#[derive(Default)]
pub(crate) struct Windows {
    map: Mutex<HashMap<String, VecDeque<u64>>>,
}

/// Whether `c` has room at `now`, after dropping what slid out. The window is `(now - T, now]`:
/// a call exactly `T` old no longer counts, so "40 in any 1 s" admits call 41 one second after
/// call 1.
fn room(map: &mut HashMap<String, VecDeque<u64>>, c: &Check<'_>, now: u64) -> bool {
    match map.get_mut(c.key) {
        Some(q) => {
            while q.front().is_some_and(|&t| t + c.window_us <= now) {
                q.pop_front();
            }
            (q.len() as u64) < c.limit
        }
        None => c.limit > 0,
    }
}

fn push(map: &mut HashMap<String, VecDeque<u64>>, c: &Check<'_>, now: u64) {
    match map.get_mut(c.key) {
        Some(q) => q.push_back(now),
        None => {
            map.insert(c.key.to_owned(), VecDeque::from([now]));
        }
    }
}

impl Windows {
    /// Passes the stages in order at one instant (read under the lock, so timestamps in each
    /// window only grow). The call is stored in every window of every stage, admitted or not,
    /// because the upstream counts every call it receives; the first stage that had no room is
    /// returned as `Err(index)`. Returns the instant used, which the call log keeps so that
    /// statistics computed from the log see exactly what the windows saw.
    pub fn admit_staged(
        &self,
        clock: &SimClock,
        stages: &[&[Check<'_>]],
    ) -> (u64, Result<(), usize>) {
        let mut map = self.map.lock();
        let now = clock.mono_us();
        let mut verdict = Ok(());
        for (i, stage) in stages.iter().enumerate() {
            let fits = stage.iter().all(|c| room(&mut map, c, now));
            if !fits && verdict.is_ok() {
                verdict = Err(i);
            }
            for c in stage.iter() {
                push(&mut map, c, now);
            }
        }
        (now, verdict)
    }

    /// Admits each group on its own at one instant (WeCom members: one member over the cap
    /// does not stop the others). Returns the instant and, per group, whether it was admitted.
    /// Only admitted groups are stored: the WeCom cap is on messages a member receives
    /// ("每个成员...接收"), and a dropped message is not received.
    pub fn admit_each(&self, clock: &SimClock, groups: &[[Check<'_>; 2]]) -> (u64, Vec<bool>) {
        let mut map = self.map.lock();
        let now = clock.mono_us();
        let admitted = groups
            .iter()
            .map(|g| {
                let ok = g.iter().all(|c| room(&mut map, c, now));
                if ok {
                    for c in g {
                        push(&mut map, c, now);
                    }
                }
                ok
            })
            .collect();
        (now, admitted)
    }

    pub fn clear(&self) {
        self.map.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_limit_then_slides() {
        let clock = SimClock::new();
        let w = Windows::default();
        let c = [Check {
            key: "k",
            window_us: SECOND_US,
            limit: 2,
        }];
        assert!(w.admit_staged(&clock, &[&c]).1.is_ok());
        assert!(w.admit_staged(&clock, &[&c]).1.is_ok());
        assert_eq!(w.admit_staged(&clock, &[&c]).1, Err(0));
        clock.advance_mono_ms(1000);
        assert!(w.admit_staged(&clock, &[&c]).1.is_ok());
    }

    #[test]
    fn refused_calls_are_counted_in_every_stage() {
        let clock = SimClock::new();
        let w = Windows::default();
        let ip = [Check {
            key: "ip",
            window_us: SECOND_US,
            limit: 1,
        }];
        let lane = [Check {
            key: "lane",
            window_us: SECOND_US,
            limit: 5,
        }];
        assert!(w.admit_staged(&clock, &[&ip, &lane]).1.is_ok());
        assert_eq!(w.admit_staged(&clock, &[&ip, &lane]).1, Err(0));
        assert_eq!(w.map.lock().get("lane").map(|q| q.len()), Some(2));
        assert_eq!(w.map.lock().get("ip").map(|q| q.len()), Some(2));
    }

    #[test]
    fn a_refused_call_prolongs_the_block() {
        let clock = SimClock::new();
        let w = Windows::default();
        let c = [Check {
            key: "k",
            window_us: SECOND_US,
            limit: 1,
        }];
        assert!(w.admit_staged(&clock, &[&c]).1.is_ok());
        clock.advance_mono_ms(600);
        assert_eq!(w.admit_staged(&clock, &[&c]).1, Err(0));
        // The admitted call slid out, the refused one (600 ms old) has not.
        clock.advance_mono_ms(600);
        assert_eq!(w.admit_staged(&clock, &[&c]).1, Err(0));
    }
}
