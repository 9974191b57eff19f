//! A lane's in-memory state on its owning replica: its pace, its egress group's pace, and the
//! pauses of both. The states live as long as the dispatcher, one per lane and one per group,
//! so a lane handed back and forth keeps its pace.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use notify_channels::ChannelHandle;
use notify_store::LaneInfo;
use notify_upstream::pace::{Pace, Paces};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::backoff::LanePause;

/// A lane's in-memory state on its owning replica.
#[derive(Debug)]
pub struct LaneState {
    /// The lane.
    pub info: LaneInfo,
    pub(crate) pace: Option<Arc<Pace>>,
    pub(crate) group: Option<Arc<GroupState>>,
    /// Rate-limit pause.
    pub pause: Mutex<LanePause>,
}

/// An egress group's shared state: the per-IP pace, its pause and its single probe.
#[derive(Debug)]
pub(crate) struct GroupState {
    pub(crate) pace: Arc<Pace>,
    /// The lanes of the group that met a rate limit lately, and when (unix ms).
    pub(crate) recent_limited: Mutex<Vec<(String, i64)>>,
    pub(crate) pause: Mutex<LanePause>,
    /// A lane of the group is sending the one probe call after a group pause.
    pub(crate) probe_taken: AtomicBool,
    /// Pause and probe changes wake the group's lanes.
    pub(crate) changed: Notify,
}

impl LaneState {
    /// The later of the lane's and its group's pause ends (unix ms).
    pub(crate) fn paused_until(&self) -> i64 {
        let lane = self.pause.lock().until_ms;
        let group = self
            .group
            .as_ref()
            .map(|g| g.pause.lock().until_ms)
            .unwrap_or(0);
        lane.max(group)
    }

    /// The paces a call of this lane passes, lane first (the lock order of `pace::pace`).
    pub(crate) fn paces(&self) -> Vec<&Pace> {
        let mut v: Vec<&Pace> = Vec::with_capacity(2);
        if let Some(p) = &self.pace {
            v.push(p);
        }
        if let Some(g) = &self.group {
            v.push(&g.pace);
        }
        v
    }

    /// A replica that takes the lane over behaves as if the lane had just sent: see
    /// `ownership.rs` for why that is enough.
    pub(crate) fn spend_burst(&self) {
        for p in self.paces() {
            p.spend_burst();
        }
    }
}

/// The states of the lanes and egress groups this replica has run.
#[derive(Debug, Default)]
pub(crate) struct LaneStates {
    lanes: Mutex<HashMap<String, Arc<LaneState>>>,
    groups: Mutex<HashMap<String, Arc<GroupState>>>,
}

impl LaneStates {
    /// The state of `info`'s lane, created on first use with the paces of `handle`'s limits and
    /// egress group (none for a channel no longer configured).
    pub(crate) fn get(
        &self,
        info: &LaneInfo,
        handle: Option<&ChannelHandle>,
        paces: &Paces,
    ) -> Arc<LaneState> {
        if let Some(s) = self.lanes.lock().get(&info.lane) {
            return s.clone();
        }
        let pace = handle.and_then(|h| {
            let documented = h.adapter.default_rate_limits();
            h.rate_limits()
                .map(|l| paces.lane(&info.lane, l, documented))
        });
        let group = handle
            .and_then(|h| h.egress_group())
            .map(|g| self.group(&g, paces));
        let state = Arc::new(LaneState {
            info: info.clone(),
            pace,
            group,
            pause: Mutex::default(),
        });
        self.lanes
            .lock()
            .entry(info.lane.clone())
            .or_insert(state)
            .clone()
    }

    fn group(&self, group: &str, paces: &Paces) -> Arc<GroupState> {
        self.groups
            .lock()
            .entry(group.to_string())
            .or_insert_with(|| {
                Arc::new(GroupState {
                    pace: paces.group(group),
                    recent_limited: Mutex::default(),
                    pause: Mutex::default(),
                    probe_taken: AtomicBool::new(false),
                    changed: Notify::new(),
                })
            })
            .clone()
    }

    /// Every lane's state, by lane.
    pub(crate) fn all(&self) -> Vec<(String, Arc<LaneState>)> {
        self.lanes
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
