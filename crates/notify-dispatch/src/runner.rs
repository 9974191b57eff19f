//! The per-lane runners, their rate-limit pauses and probes, the completion writer and the
//! sweeper. Lane ownership (which lanes this replica runs) is in `ownership.rs`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use notify_store::{ClaimedPart, Completion, LaneInfo, PartResult};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

use crate::backoff::LanePause;
use crate::decide::LaneSignal;
use crate::ownership::UnitLease;
use crate::{Dispatcher, RoundReport};
use notify_upstream::pace::{pace, Pace};

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
/// Calls a lane has in flight at once; its pace spaces their starts.
const LANE_CONCURRENCY: usize = 16;

/// A lane's in-memory state on its owning replica.
#[derive(Debug)]
pub struct LaneState {
    /// The lane.
    pub info: LaneInfo,
    pace: Option<Arc<Pace>>,
    group: Option<Arc<GroupState>>,
    /// Rate-limit pause.
    pub pause: Mutex<LanePause>,
}

/// An egress group's shared state: the per-IP pace, its pause and its single probe.
#[derive(Debug)]
pub struct GroupState {
    pace: Arc<Pace>,
    recent_limited: Mutex<Vec<(String, i64)>>,
    pause: Mutex<LanePause>,
    /// A lane of the group is sending the one probe call after a group pause.
    probe_taken: AtomicBool,
    /// Pause and probe changes wake the group's lanes.
    changed: Notify,
}

impl LaneState {
    /// The later of the lane's and its group's pause ends (unix ms).
    fn paused_until(&self) -> i64 {
        let lane = self.pause.lock().until_ms;
        let group = self
            .group
            .as_ref()
            .map(|g| g.pause.lock().until_ms)
            .unwrap_or(0);
        lane.max(group)
    }

    /// The paces a call of this lane passes, lane first (the lock order of `limits::reserve`).
    fn paces(&self) -> Vec<&Pace> {
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

/// What a call passes right before it leaves: its lane's paces, pause and lease.
pub(crate) struct Gate<'a> {
    state: &'a LaneState,
    lease: Option<&'a UnitLease>,
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

/// Releases a group's probe token when the probe is over, however it ended.
struct ProbeToken<'a>(Option<&'a GroupState>);

impl Drop for ProbeToken<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.0 {
            g.probe_taken.store(false, Ordering::SeqCst);
            g.changed.notify_waiters();
        }
    }
}

impl Dispatcher {
    pub(crate) fn lane_state(&self, info: &LaneInfo) -> Arc<LaneState> {
        if let Some(s) = self.lanes.lock().get(&info.lane) {
            return s.clone();
        }
        let handle = self.channels.get(&info.channel);
        let pace = handle
            .and_then(|h| h.rate_limits())
            .map(|l| self.paces.lane(&info.lane, l));
        let group = handle.and_then(|h| h.egress_group()).map(|g| {
            self.groups
                .lock()
                .entry(g.clone())
                .or_insert_with(|| {
                    Arc::new(GroupState {
                        pace: self.paces.group(&g),
                        recent_limited: Mutex::default(),
                        pause: Mutex::default(),
                        probe_taken: AtomicBool::new(false),
                        changed: Notify::new(),
                    })
                })
                .clone()
        });
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

    /// Records claimed parts as held: their leases are renewed until their completions are
    /// written (see [`Dispatcher::keep_part_leases`]).
    pub(crate) fn hold(&self, parts: &[ClaimedPart]) {
        let mut held = self.held.lock();
        for p in parts {
            *held.entry(p.lease_token.clone()).or_default() += 1;
        }
    }

    /// Forgets parts whose completions are written.
    pub(crate) fn release<'a>(&self, tokens: impl Iterator<Item = &'a str>) {
        let mut held = self.held.lock();
        for t in tokens {
            if let Some(n) = held.get_mut(t) {
                *n -= 1;
                if *n == 0 {
                    held.remove(t);
                }
            }
        }
    }

    /// Renews the leases of held parts three times per lease, for as long as this process lives:
    /// a part's lease then runs out only when its worker is gone, never because its call was
    /// slow or it waited long for its lane's pace (which re-sent live calls: RELIABILITY.md).
    pub(crate) async fn keep_part_leases(self) {
        let lease_ms = self.config.part_lease.as_millis() as i64;
        let every = (self.config.part_lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let tokens: Vec<String> = self.held.lock().keys().cloned().collect();
            if let Err(e) = self
                .store
                .renew_leases(&self.config.replica_id, &tokens, lease_ms)
                .await
            {
                tracing::warn!(error = %e, "renewing part leases failed");
            }
        }
    }

    /// Claims one batch of every known lane and runs it to completion, respecting limits and
    /// pauses. For tests and tools: no ownership, no sleeping for wake-ups.
    pub async fn run_once(&self) -> Result<RoundReport, notify_store::StoreError> {
        // Recalls asked for during a send that has ended since: queued first, so this round
        // already makes them.
        self.finish_pending_recalls().await?;
        let mut report = RoundReport::default();
        for lane in self.store.lanes().await? {
            let state = self.lane_state(&lane.info);
            let parts = self
                .store
                .claim(
                    &lane.info.lane,
                    &self.config.replica_id,
                    self.config.claim_batch,
                    self.config.part_lease.as_millis() as i64,
                )
                .await?;
            let mut completions = Vec::new();
            for p in parts {
                completions.push(self.run_part(&state, p, None).await);
            }
            report.completed += completions.len();
            self.store.complete(&completions).await?;
        }
        Ok(report)
    }

    /// Executes the part through the lane's gate (see [`Gate`]); a part of a paused lane goes
    /// back to the queue at once without a call and without spending an attempt.
    async fn run_part(
        &self,
        state: &LaneState,
        part: ClaimedPart,
        lease: Option<&UnitLease>,
    ) -> Completion {
        let paused_until = state.paused_until();
        if paused_until > self.store.now_ms() {
            return Completion {
                part_id: part.id.clone(),
                lease_token: part.lease_token.clone(),
                result: requeue(paused_until, PAUSED),
                attempt: None,
            };
        }
        let gate = Gate { state, lease };
        let (completion, signal) = self.execute_gated(&part, Some(&gate)).await;
        self.learn(state, signal);
        completion
    }

    /// Waits for the gate's slot in its lane's and egress group's paces, then checks that the
    /// lane is not paused (an answer to an earlier call may have paused it meanwhile) and that
    /// this replica still owns it. `Some(result)` sends the part back to the queue instead.
    pub(crate) async fn pass_gate(&self, gate: &Gate<'_>) -> Option<PartResult> {
        pace(&gate.state.paces()).await;
        let now = self.store.now_ms();
        let paused_until = gate.state.paused_until();
        if paused_until > now {
            return Some(requeue(paused_until, PAUSED));
        }
        if gate.lease.is_some_and(|l| !l.may_send()) {
            return Some(requeue(
                now,
                "this replica's lane ownership ran out before the call; the lane's next owner sends it",
            ));
        }
        None
    }

    fn learn(&self, state: &LaneState, signal: LaneSignal) {
        let now = self.store.now_ms();
        match signal {
            LaneSignal::Success => {
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
                        let _ = store.pause_lane(&lane, 0, 0, false).await;
                    });
                }
            }
            LaneSignal::RateLimited(initial) => {
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
                    let _ = store.pause_lane(&lane, until, step, true).await;
                });
                // 48503 from several lanes of one egress group at once is the per-IP cap:
                // pause the whole group.
                if let Some(g) = &state.group {
                    let storm = {
                        let mut recent = g.recent_limited.lock();
                        recent.retain(|(_, t)| *t > now - GROUP_STORM_WINDOW_MS);
                        recent.push((state.info.lane.clone(), now));
                        let lanes: HashSet<&String> = recent.iter().map(|(l, _)| l).collect();
                        lanes.len() >= GROUP_STORM_LANES
                    };
                    let mut gp = g.pause.lock();
                    // A group already paused learns from each further answer only once per
                    // step, so one storm doubles the step once, not once per lane.
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
            }
            LaneSignal::Neutral => {}
        }
    }

    /// Drains one lane while this replica owns it: claims, paces, probes after pauses.
    pub(crate) async fn lane_loop(
        self,
        state: Arc<LaneState>,
        lease: Arc<UnitLease>,
        done: mpsc::Sender<Completion>,
        mut stop: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut wake = self.store.wake().subscribe();
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let no_group = Notify::new();
        loop {
            if *stop.borrow() || *shutdown.borrow() {
                break;
            }
            let changed = state.group.as_ref().map_or(&no_group, |g| &g.changed);
            if !lease.may_send() {
                // Renewals failed for a while: claim nothing until the supervisor renews the
                // lease (or stops this runner).
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stop.changed() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let now = self.store.now_ms();
            let paused_until = state.paused_until();
            if paused_until > now {
                let wait = Duration::from_millis((paused_until - now) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = changed.notified() => {}
                    _ = stop.changed() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            // After a pause, one probe call before the lane opens again: the lane's own probe,
            // or the group's, which one lane of the group at a time may send.
            let lane_probe = state.pause.lock().probing;
            let group = state.group.as_deref();
            let group_probe = group.is_some_and(|g| g.pause.lock().probing);
            let mut token = ProbeToken(None);
            if group_probe {
                let g = group.unwrap_or_else(|| unreachable!("group_probe implies a group"));
                if g.probe_taken.swap(true, Ordering::SeqCst) {
                    tokio::select! {
                        _ = changed.notified() => {}
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = stop.changed() => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
                token = ProbeToken(Some(g));
            }
            let probing = lane_probe || group_probe;
            let n = if probing { 1 } else { self.config.claim_batch };
            let parts = match self
                .store
                .claim(
                    &state.info.lane,
                    &self.config.replica_id,
                    n,
                    self.config.part_lease.as_millis() as i64,
                )
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    drop(token);
                    tracing::warn!(lane = %state.info.lane, error = %e, "claim failed");
                    tokio::time::sleep(self.config.poll_interval).await;
                    continue;
                }
            };
            self.hold(&parts);
            if parts.is_empty() {
                drop(token);
                tokio::select! {
                    _ = wake.changed() => {}
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = stop.changed() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            if probing {
                // The probe goes alone: the lane's earlier calls finish first.
                while in_flight.join_next().await.is_some() {}
                for part in parts {
                    let c = self.run_part(&state, part, Some(&lease)).await;
                    let _ = done.send(c).await;
                }
                drop(token);
                continue;
            }
            for part in parts {
                // Bounded concurrency per lane; the paces space the starts.
                while in_flight.len() >= LANE_CONCURRENCY {
                    in_flight.join_next().await;
                }
                let d = self.clone();
                let st = state.clone();
                let tx = done.clone();
                let l = lease.clone();
                in_flight.spawn(async move {
                    let c = d.run_part(&st, part, Some(&l)).await;
                    let _ = tx.send(c).await;
                });
            }
        }
        while in_flight.join_next().await.is_some() {}
    }
}

/// Writes completions in batches: whatever has finished by the time the previous batch is
/// committed goes in the next one.
pub(crate) async fn write_completions(d: Dispatcher, mut rx: mpsc::Receiver<Completion>) {
    let store = d.store.clone();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(100);
        loop {
            match store.complete(&batch).await {
                Ok(_) => {
                    d.release(batch.iter().map(|c| c.lease_token.as_str()));
                    break;
                }
                Err(e) => {
                    // Never drop a result: keep the batch until the store is back. If it stays
                    // down past the leases, the sweeper re-queues the parts instead.
                    tracing::warn!(error = %e, parts = batch.len(), "writing completions failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

pub(crate) async fn sweep_loop(d: Dispatcher, mut shutdown: watch::Receiver<bool>) {
    let mut last_purge = 0i64;
    let mut last_gauges = 0i64;
    loop {
        match d.store.sweep().await {
            Ok(r) if r.rescued > 0 || r.expired > 0 => {
                tracing::info!(rescued = r.rescued, expired = r.expired, "sweep");
                metrics::counter!("notify_lease_takeovers_total").increment(r.rescued);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        if let Err(e) = d.finish_pending_recalls().await {
            tracing::warn!(error = %e, "pending recalls");
        }
        let now = d.store.now_ms();
        if now - last_gauges >= 5_000 {
            last_gauges = now;
            if let Err(e) = d.refresh_gauges().await {
                tracing::warn!(error = %e, "reading gauges failed");
            }
        }
        if now - last_purge > 60_000 {
            last_purge = now;
            let before = now - d.config.retention.as_millis() as i64;
            while let Ok(n) = d.store.purge_finished(before, 500).await {
                if n == 0 {
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
