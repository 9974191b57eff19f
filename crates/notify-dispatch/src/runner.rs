//! Lane ownership, the per-lane runners, the completion writer and the sweeper.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use notify_store::{ClaimedPart, Completion, LaneInfo};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::backoff::LanePause;
use crate::decide::LaneSignal;
use crate::limits::{lane_limiter, window_limiter, Limiter};
use crate::{Dispatcher, RoundReport};

/// The rate-limit cap of a `48503` pause.
const PAUSE_CAP: Duration = Duration::from_secs(60);
/// WeCom blocks for the rest of the minute or hour: a longer cap.
const PAUSE_CAP_LONG: Duration = Duration::from_secs(600);

/// A lane's in-memory state on its owning replica.
#[derive(Debug)]
pub struct LaneState {
    /// The lane.
    pub info: LaneInfo,
    limiter: Option<Arc<Limiter>>,
    group: Option<Arc<GroupState>>,
    /// Rate-limit pause.
    pub pause: Mutex<LanePause>,
}

/// An egress group's shared state: the per-IP bucket and its pause.
#[derive(Debug)]
pub struct GroupState {
    limiter: Arc<Limiter>,
    recent_limited: Mutex<Vec<(String, i64)>>,
    pause: Mutex<LanePause>,
}

impl Dispatcher {
    fn lane_state(&self, info: &LaneInfo) -> Arc<LaneState> {
        if let Some(s) = self.lanes.lock().get(&info.lane) {
            return s.clone();
        }
        let handle = self.channels.get(&info.channel);
        let limiter = handle.and_then(|h| h.rate_limits()).map(lane_limiter);
        let group = handle.and_then(|h| h.egress_group()).map(|g| {
            self.groups
                .lock()
                .entry(g)
                .or_insert_with(|| {
                    Arc::new(GroupState {
                        // WeLink guide 2.2.1.4: 3000 calls per 20 s per IP.
                        limiter: window_limiter(3000, Duration::from_secs(20)),
                        recent_limited: Mutex::default(),
                        pause: Mutex::default(),
                    })
                })
                .clone()
        });
        let state = Arc::new(LaneState {
            info: info.clone(),
            limiter,
            group,
            pause: Mutex::default(),
        });
        self.lanes.lock().insert(info.lane.clone(), state.clone());
        state
    }

    /// Claims one batch of every known lane and runs it to completion, respecting limits and
    /// pauses. For tests and tools: no ownership, no sleeping for wake-ups.
    pub async fn run_once(&self) -> Result<RoundReport, notify_store::StoreError> {
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
                completions.push(self.run_part(&state, p).await);
            }
            report.completed += completions.len();
            self.store.complete(&completions).await?;
        }
        if let Ok(ids) = self.store.take_pending_recalls().await {
            for id in ids {
                tracing::info!(delivery = %id, "recall requested during a send; the caller's recall can now proceed");
            }
        }
        Ok(report)
    }

    /// Waits for the lane's limiters (or its pause), then executes the part.
    async fn run_part(&self, state: &LaneState, part: ClaimedPart) -> Completion {
        let now = self.store.now_ms();
        let paused_until = state.pause.lock().until_ms.max(
            state
                .group
                .as_ref()
                .map(|g| g.pause.lock().until_ms)
                .unwrap_or(0),
        );
        if paused_until > now {
            return Completion {
                part_id: part.id.clone(),
                lease_token: part.lease_token.clone(),
                result: notify_store::PartResult::Retry {
                    at_ms: paused_until,
                    spend_attempt: false,
                    error: "lane paused after a rate-limit answer".into(),
                    possible_duplicate: false,
                },
                attempt: None,
            };
        }
        if let Some(l) = &state.limiter {
            l.until_ready().await;
        }
        if let Some(g) = &state.group {
            g.limiter.until_ready().await;
        }
        let (completion, signal) = self.execute(&part).await;
        self.learn(state, signal);
        completion
    }

    fn learn(&self, state: &LaneState, signal: LaneSignal) {
        let now = self.store.now_ms();
        match signal {
            LaneSignal::Success => state.pause.lock().succeeded(),
            LaneSignal::RateLimited(initial) => {
                let cap = if initial >= Duration::from_secs(30) {
                    PAUSE_CAP_LONG
                } else {
                    PAUSE_CAP
                };
                let until = state.pause.lock().rate_limited(now, initial, cap);
                let store = self.store.clone();
                let lane = state.info.lane.clone();
                let step = state.pause.lock().step_ms();
                tokio::spawn(async move {
                    let _ = store.pause_lane(&lane, until, step, true).await;
                });
                // 48503 from several lanes of one egress group at once is the per-IP cap:
                // pause the whole group.
                if let Some(g) = &state.group {
                    let mut recent = g.recent_limited.lock();
                    recent.retain(|(_, t)| *t > now - 2_000);
                    recent.push((state.info.lane.clone(), now));
                    let lanes: HashSet<&String> = recent.iter().map(|(l, _)| l).collect();
                    if lanes.len() >= 2 {
                        g.pause.lock().rate_limited(now, initial, cap);
                    }
                }
            }
            LaneSignal::Neutral => {}
        }
    }

    /// Runs until `shutdown` turns true: owns lanes, drains them, sweeps. In-flight calls are
    /// finished and their results written before it returns; owned lanes are released.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::channel::<Completion>(4096);
        let writer = tokio::spawn(write_completions(self.store.clone(), done_rx));
        let sweeper = tokio::spawn(sweep_loop(self.clone(), shutdown.clone()));
        let mut runners: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        let mut owned: HashMap<String, watch::Sender<bool>> = HashMap::new();
        let mut wake = self.store.wake().subscribe();
        let lease_ms = self.config.lane_lease.as_millis() as i64;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let replicas = self
                .store
                .heartbeat(&self.config.replica_id, lease_ms)
                .await
                .unwrap_or_else(|_| vec![self.config.replica_id.clone()]);
            let lanes = self.store.lanes().await.unwrap_or_default();
            let owners = self.store.unit_owners().await.unwrap_or_default();
            let now = self.store.now_ms();
            let mut units: Vec<String> = lanes.iter().map(|l| l.info.unit.clone()).collect();
            units.sort();
            units.dedup();
            let me = replicas
                .iter()
                .position(|r| *r == self.config.replica_id)
                .unwrap_or(0);
            let n = replicas.len().max(1);
            for (i, unit) in units.iter().enumerate() {
                // Units spread over live replicas by their sorted order; a unit whose owner is
                // gone and whose lease lapsed twice over is taken by anyone.
                let mine = i % n == me;
                let orphan = owners
                    .iter()
                    .find(|o| &o.unit == unit)
                    .is_some_and(|o| o.owner.is_none() || o.lease_until + lease_ms < now);
                if mine || orphan || owned.contains_key(unit) {
                    match self
                        .store
                        .acquire_unit(unit, &self.config.replica_id, lease_ms)
                        .await
                    {
                        Ok(Some(_)) => {
                            owned
                                .entry(unit.clone())
                                .or_insert_with(|| watch::channel(false).0);
                        }
                        Ok(None) | Err(_) => {
                            if let Some(stop) = owned.remove(unit) {
                                let _ = stop.send(true);
                            }
                        }
                    }
                }
                if !mine && owned.contains_key(unit) && !orphan {
                    // A new replica's share: hand it over.
                    let desired_owner_alive = replicas.get(i % n).is_some();
                    if desired_owner_alive {
                        if let Some(stop) = owned.remove(unit) {
                            let _ = stop.send(true);
                            let _ = self.store.release_unit(unit, &self.config.replica_id).await;
                        }
                    }
                }
            }
            for lane in &lanes {
                if let Some(stop) = owned.get(&lane.info.unit) {
                    let running = runners
                        .get(&lane.info.lane)
                        .is_some_and(|h| !h.is_finished());
                    if !running {
                        let state = self.lane_state(&lane.info);
                        if lane.paused_until > now {
                            state.pause.lock().until_ms = lane.paused_until;
                        }
                        let d = self.clone();
                        let tx = done_tx.clone();
                        let stop_rx = stop.subscribe();
                        let sd = shutdown.clone();
                        runners.insert(
                            lane.info.lane.clone(),
                            tokio::spawn(async move { d.lane_loop(state, tx, stop_rx, sd).await }),
                        );
                    }
                }
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = wake.changed() => {}
                _ = tokio::time::sleep(self.config.lane_lease / 4) => {}
            }
        }
        for (_, stop) in owned.drain() {
            let _ = stop.send(true);
        }
        for (_, h) in runners.drain() {
            let _ = h.await;
        }
        drop(done_tx);
        let _ = writer.await;
        let _ = sweeper.await;
        for unit in self.store.unit_owners().await.unwrap_or_default() {
            if unit.owner.as_deref() == Some(self.config.replica_id.as_str()) {
                let _ = self
                    .store
                    .release_unit(&unit.unit, &self.config.replica_id)
                    .await;
            }
        }
        let _ = self.store.forget_replica(&self.config.replica_id).await;
    }

    async fn lane_loop(
        self,
        state: Arc<LaneState>,
        done: mpsc::Sender<Completion>,
        mut stop: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut wake = self.store.wake().subscribe();
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            if *stop.borrow() || *shutdown.borrow() {
                break;
            }
            let now = self.store.now_ms();
            let paused_until = state.pause.lock().until_ms;
            if paused_until > now {
                let wait = Duration::from_millis((paused_until - now) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            // After a pause, one probe call before the lane opens again.
            let probing = state.pause.lock().probing;
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
                    tracing::warn!(lane = %state.info.lane, error = %e, "claim failed");
                    tokio::time::sleep(self.config.poll_interval).await;
                    continue;
                }
            };
            if parts.is_empty() {
                tokio::select! {
                    _ = wake.changed() => {}
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = stop.changed() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for part in parts {
                // Bounded concurrency per lane; the limiter paces the starts.
                while in_flight.len() >= 16 {
                    in_flight.join_next().await;
                }
                let d = self.clone();
                let st = state.clone();
                let tx = done.clone();
                if probing {
                    let c = d.run_part(&st, part).await;
                    let _ = tx.send(c).await;
                } else {
                    in_flight.spawn(async move {
                        let c = d.run_part(&st, part).await;
                        let _ = tx.send(c).await;
                    });
                }
            }
        }
        while in_flight.join_next().await.is_some() {}
    }
}

/// Writes completions in batches: whatever has finished by the time the previous batch is
/// committed goes in the next one.
async fn write_completions(store: notify_store::Store, mut rx: mpsc::Receiver<Completion>) {
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
                Ok(_) => break,
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

async fn sweep_loop(d: Dispatcher, mut shutdown: watch::Receiver<bool>) {
    let mut last_purge = 0i64;
    loop {
        match d.store.sweep().await {
            Ok(r) if r.rescued > 0 || r.expired > 0 => {
                tracing::info!(rescued = r.rescued, expired = r.expired, "sweep");
                metrics::counter!("notify_lease_takeovers_total").increment(r.rescued);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        let now = d.store.now_ms();
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
