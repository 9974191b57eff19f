//! Per-member caps: WeCom drops messages over a member's per-minute and per-hour caps silently,
//! so the gateway counts what it sent each member and holds the excess back. (Call pacing —
//! lanes and egress groups — is `notify_upstream::pace`, shared with the token manager.)

use std::collections::{HashMap, VecDeque};

use notify_channels::MemberLimits;
use parking_lot::Mutex;

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
}
