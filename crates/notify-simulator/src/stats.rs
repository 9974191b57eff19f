//! `GET /_sim/stats`: counts and window maxima computed from the call log alone, so a test of
//! the gateway can check it kept to the caps without trusting the simulator's limiter.
//!
//! Windows use the monotonic instants the caps used, and the caps' window `(t - T, t]`.
//! "accepted" excludes calls answered with a rate-limit code (48503, 58602, 45009): those are
//! what the windows admitted, so `max_1s_accepted` can never exceed the cap.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::calls::Entry;
use crate::caps::SECOND_US;
use crate::clock::shanghai_date;
use crate::entry::{family, welink_host, Family};

const RATE_LIMITED: &[&str] = &["48503", "58602", "45009"];

/// The largest number of instants inside any window of `window_us`.
pub(crate) fn max_in_window(ts: &mut [u64], window_us: u64) -> usize {
    ts.sort_unstable();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..ts.len() {
        while ts[lo] + window_us <= ts[hi] {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[derive(Default)]
struct Series {
    all: Vec<u64>,
    accepted: Vec<u64>,
}

impl Series {
    fn push(&mut self, e: &Entry) {
        self.all.push(e.mono_us);
        if !RATE_LIMITED.contains(&e.code.as_str()) {
            self.accepted.push(e.mono_us);
        }
    }
}

pub(crate) fn compute(entries: &[Arc<Entry>]) -> Value {
    let mut by_path: BTreeMap<&str, (u64, BTreeMap<&str, u64>)> = BTreeMap::new();
    let mut lanes: BTreeMap<(&str, &str), Series> = BTreeMap::new();
    let mut ips: BTreeMap<&str, Series> = BTreeMap::new();
    let mut xiaowei: BTreeMap<(&str, String), u64> = BTreeMap::new();
    let mut members: HashMap<(&str, &str), (Vec<u64>, u64)> = HashMap::new();
    let (mut dropped, mut duplicates) = (0u64, 0u64);

    for e in entries {
        let slot = by_path.entry(&e.path).or_default();
        slot.0 += 1;
        *slot.1.entry(&e.code).or_default() += 1;
        if welink_host(&e.path) {
            ips.entry(&e.peer_ip).or_default().push(e);
            if let Some(c) = &e.client_id {
                lanes
                    .entry((c.as_str(), e.path.as_str()))
                    .or_default()
                    .push(e);
            }
        }
        if family(&e.path) == Family::Xiaowei {
            // What the daily quota counted: calls past the token and the frequency caps.
            if let Some(c) = &e.client_id {
                if !matches!(e.code.as_str(), "58602" | "58401" | "58604" | "501") {
                    *xiaowei
                        .entry((c.as_str(), shanghai_date(e.at_ms).to_string()))
                        .or_default() += 1;
                }
            }
        }
        if e.dropped {
            dropped += 1;
        }
        if e.notes.iter().any(|n| n.starts_with("duplicate_of:")) {
            duplicates += 1;
        }
        if let Some(m) = &e.members {
            for d in &m.delivered {
                members
                    .entry((m.scope.as_str(), d.as_str()))
                    .or_default()
                    .0
                    .push(e.mono_us);
            }
            for d in &m.dropped {
                members.entry((m.scope.as_str(), d.as_str())).or_default().1 += 1;
            }
        }
    }

    let by_path: BTreeMap<&str, Value> = by_path
        .into_iter()
        .map(|(p, (total, codes))| (p, json!({"total": total, "by_code": codes})))
        .collect();
    let lanes: Vec<Value> = lanes
        .into_iter()
        .map(|((client, path), mut s)| {
            json!({
                "client_id": client,
                "interface": path,
                "calls": s.all.len(),
                "max_1s": max_in_window(&mut s.all, SECOND_US),
                "max_60s": max_in_window(&mut s.all, 60 * SECOND_US),
                "max_1s_accepted": max_in_window(&mut s.accepted, SECOND_US),
                "max_60s_accepted": max_in_window(&mut s.accepted, 60 * SECOND_US),
            })
        })
        .collect();
    let ips: Vec<Value> = ips
        .into_iter()
        .map(|(ip, mut s)| {
            json!({
                "peer_ip": ip,
                "calls": s.all.len(),
                "max_20s": max_in_window(&mut s.all, 20 * SECOND_US),
                "max_20s_accepted": max_in_window(&mut s.accepted, 20 * SECOND_US),
            })
        })
        .collect();
    let xiaowei: Vec<Value> = xiaowei
        .into_iter()
        .map(|((c, day), n)| json!({"client_id": c, "day": day, "counted": n}))
        .collect();
    let mut keys: Vec<(&str, &str)> = members.keys().copied().collect();
    keys.sort_unstable();
    let members: Vec<Value> = keys
        .into_iter()
        .filter_map(|k| members.remove(&k).map(|v| (k, v)))
        .map(|((scope, member), (mut ts, drops))| {
            json!({
                "scope": scope,
                "member": member,
                "delivered": ts.len(),
                "max_60s": max_in_window(&mut ts, 60 * SECOND_US),
                "max_3600s": max_in_window(&mut ts, 3600 * SECOND_US),
                "dropped": drops,
            })
        })
        .collect();
    json!({
        "total": entries.len(),
        "by_path": by_path,
        "welink_interfaces": lanes,
        "welink_ips": ips,
        "xiaowei_days": xiaowei,
        "wecom_members": members,
        "dropped": dropped,
        "duplicates": duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::max_in_window;

    #[test]
    fn window_maximum() {
        let mut ts = vec![0, 10, 999_999, 1_000_000, 1_500_000];
        // (t - 1 s, t]: at 999_999 the first three count; at 1_000_000 the instant 0 has
        // left, so never four.
        assert_eq!(max_in_window(&mut ts, 1_000_000), 3);
        assert_eq!(max_in_window(&mut ts, 1_000_001), 4);
        assert_eq!(max_in_window(&mut [], 1), 0);
    }
}
