//! Admission: whether a part may go now. Before anything else its deadline and its
//! recipients' per-member caps; right before the call the lane's gate (its paces, its pause,
//! this replica's ownership) and the daily quota. A part not admitted goes back to the queue
//! without spending an attempt, or ends when it can never go.

use notify_channels::ChannelHandle;
use notify_core::clock::{shanghai_day, shanghai_day_start_ms};
use notify_core::PartOp;
use notify_store::{ClaimedPart, PartResult};
use notify_upstream::pace::pace;

use crate::lane::LaneState;
use crate::ownership::UnitLease;
use crate::Dispatcher;

/// What a call passes right before it leaves: its lane's paces, pause and lease.
pub(crate) struct Gate<'a> {
    pub(crate) state: &'a LaneState,
    pub(crate) lease: Option<&'a UnitLease>,
}

const PAUSED: &str = "lane paused after a rate-limit answer";

/// Back to the queue without spending an attempt.
fn requeue(at_ms: i64, why: &str) -> PartResult {
    PartResult::Retry {
        at_ms,
        spend_attempt: false,
        error: why.to_string(),
        possible_duplicate: false,
    }
}

/// `Some(result)` when the lane (or its egress group) is paused at `now`: the part goes back
/// to the queue until the pause ends, without a call.
pub(crate) fn paused(state: &LaneState, now: i64) -> Option<PartResult> {
    let paused_until = state.paused_until();
    (paused_until > now).then(|| requeue(paused_until, PAUSED))
}

impl Dispatcher {
    /// The checks before a part is prepared: a send or upload still before its deadline, and
    /// room under the per-member caps of its recipients.
    /// `Some(result)` ends the execution without a call.
    pub(crate) fn admit(
        &self,
        part: &ClaimedPart,
        handle: &ChannelHandle,
        now: i64,
    ) -> Option<PartResult> {
        if matches!(part.op, PartOp::Send | PartOp::Upload) && now >= part.expires_at {
            return Some(PartResult::Expired {
                error: "expired before it could be sent".into(),
            });
        }
        let (Some(limits), PartOp::Send) = (handle.member_limits(), part.op) else {
            return None;
        };
        let credential = handle.adapter.credential();
        let until = self
            .members
            .admit(&credential, &part.recipients, limits, now)?;
        metrics::counter!("notify_member_limit_waits_total", "channel" => handle.name.clone())
            .increment(1);
        Some(PartResult::Retry {
            at_ms: until,
            spend_attempt: false,
            error: "a recipient reached WeCom's per-member limit; held back instead of being dropped upstream".into(),
            possible_duplicate: false,
        })
    }

    /// Waits for the gate's slot in its lane's and egress group's paces, then checks that the
    /// lane is not paused (an answer to an earlier call may have paused it meanwhile) and that
    /// this replica still owns it. `Some(result)` sends the part back to the queue instead.
    pub(crate) async fn pass_gate(&self, gate: &Gate<'_>) -> Option<PartResult> {
        pace(&gate.state.paces()).await;
        let now = self.store.now_ms();
        if let Some(requeued) = paused(gate.state, now) {
            return Some(requeued);
        }
        if gate.lease.is_some_and(|l| !l.may_send()) {
            return Some(requeue(
                now,
                "this replica's lane ownership ran out before the call; the lane's next owner sends it",
            ));
        }
        None
    }

    /// Xiaowei's daily quota: a slot is reserved in the store right before the call, once per
    /// execution (`reserved` remembers it), and never given back, so a call whose outcome is
    /// unknown (timeout, crash) counts as used. The day is the Asia/Shanghai day of the store's
    /// clock, the database's in the binary (docs/rate-limits.md). The day belongs to the
    /// channel's enterprise, which other channels (other apps of it) may share. `Some(result)`
    /// ends the execution without a call.
    pub(crate) async fn reserve_quota(
        &self,
        part: &ClaimedPart,
        handle: &ChannelHandle,
        reserved: &mut bool,
    ) -> Option<PartResult> {
        let (Some(limit), Some(key), PartOp::Send, false) =
            (handle.daily_quota(), handle.quota_key(), part.op, *reserved)
        else {
            return None;
        };
        *reserved = true;
        let day = shanghai_day(self.store.now_ms());
        match self
            .store
            .quota()
            .reserve_quota(&key, day, i64::from(limit))
            .await
        {
            Ok(true) => None,
            Ok(false) => {
                metrics::counter!("notify_quota_exhausted_total", "channel" => handle.name.clone(), "source" => "local").increment(1);
                Some(over_quota(part, day))
            }
            Err(e) => Some(self.store_trouble(&e.to_string())),
        }
    }

    fn store_trouble(&self, e: &str) -> PartResult {
        PartResult::Retry {
            at_ms: self.store.now_ms() + 1_000,
            spend_attempt: false,
            error: format!("store: {e}"),
            possible_duplicate: false,
        }
    }
}

/// A part over its daily quota waits for the next quota day, or expires now if its deadline
/// comes first (contract §4).
pub(crate) fn over_quota(part: &ClaimedPart, day: i64) -> PartResult {
    let next_day = shanghai_day_start_ms(day + 1);
    if part.expires_at <= next_day {
        PartResult::Expired {
            error: "daily quota spent; it would expire before the next quota day".into(),
        }
    } else {
        PartResult::Retry {
            at_ms: next_day,
            spend_attempt: false,
            error: "daily quota spent; waits for the next quota day (Asia/Shanghai)".into(),
            possible_duplicate: false,
        }
    }
}
