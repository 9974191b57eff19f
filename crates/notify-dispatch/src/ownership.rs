//! Which lanes this replica runs. Lanes are owned in units (all WeLink lanes of one egress
//! group together, so the per-IP pace is in one process; every other lane alone) through lease
//! rows in the store, so each lane's in-process pace is the global one.
//!
//! # Leases without trusting clocks
//!
//! Every tick the owner renews its units; each renewal writes a new `lease_until`. The owner may
//! send until `renewal sent + lease − margin` on its *monotonic* clock ([`UnitLease::may_send`]),
//! checked before every claim and again right before every call. Another replica takes a unit
//! only when it is free (released) or when it has watched the row stay unchanged for a whole
//! lease on its own monotonic clock, and then only by compare-and-set on what it saw
//! (`Store::take_unit`). The row it saw was written after the owner's last renewal was sent, so
//! the owner stopped sending at least `margin` before the takeover — whatever the replicas'
//! wall clocks say. The fence grows with each new owner.
//!
//! # Starting with the burst spent
//!
//! A new owner's paces start as if they had just admitted a call: the first call waits one
//! period. The paces have a burst of one (`limits.rs`), so the sliding-window bound only needs
//! consecutive calls of a lane to stay a period apart across the handover. The old owner's last
//! call was at least `margin` (≥ one period) before the takeover after a crash, and before the
//! release after a graceful hand-over (a unit is released only once its runners have finished
//! their calls). Waiting out a whole window (60 s) instead would idle the lane for nothing.
//!
//! # Takeover time
//!
//! A dead owner's unit changes hands at most one tick (its last renewal) + one lease (watched
//! unchanged) + one tick (the next look) after the crash: with the default 10 s lease and 1 s
//! ticks, ≤ 12 s (the issue asks for 15 s).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify_store::lanes::UnitOwner;
use notify_store::Completion;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runner::{sweep_loop, write_completions};
use crate::Dispatcher;

/// A unit this replica holds: until when it may send, and the stop signal of its runners.
#[derive(Debug)]
pub(crate) struct UnitLease {
    fence: i64,
    may_send_until: Mutex<Instant>,
    stop: watch::Sender<bool>,
}

impl UnitLease {
    fn new(fence: i64, until: Instant) -> Self {
        Self {
            fence,
            may_send_until: Mutex::new(until),
            stop: watch::channel(false).0,
        }
    }

    /// True while this replica's lease is surely still its own (see the module comment).
    pub(crate) fn may_send(&self) -> bool {
        Instant::now() < *self.may_send_until.lock()
    }

    fn extend(&self, until: Instant) {
        let mut u = self.may_send_until.lock();
        *u = (*u).max(until);
    }
}

/// What this replica last saw of a unit's row, and since when it has not changed.
struct Watched {
    seen: UnitOwner,
    since: Instant,
}

/// The supervisor's timing, derived from the lane lease.
#[derive(Debug, Clone, Copy)]
struct Timing {
    lease: Duration,
    /// How long before its lease ends an owner stops sending.
    margin: Duration,
    /// How often units are renewed and watched.
    tick: Duration,
}

impl Timing {
    fn of(lease: Duration) -> Self {
        Self {
            lease,
            margin: lease / 5,
            tick: (lease / 5).clamp(Duration::from_millis(50), Duration::from_secs(1)),
        }
    }
}

impl Dispatcher {
    /// Runs until `shutdown` turns true: owns lanes, drains them, sweeps. In-flight calls are
    /// finished and their results written before it returns; owned lanes are released.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::channel::<Completion>(4096);
        let writer = tokio::spawn(write_completions(self.clone(), done_rx));
        let sweeper = tokio::spawn(sweep_loop(self.clone(), shutdown.clone()));
        let keeper = tokio::spawn(self.clone().keep_part_leases());
        let timing = Timing::of(self.config.lane_lease);
        let lease_ms = timing.lease.as_millis() as i64;
        let me = self.config.replica_id.clone();
        let mut held: HashMap<String, Arc<UnitLease>> = HashMap::new();
        let mut watched: HashMap<String, Watched> = HashMap::new();
        // lane -> (unit, runner)
        let mut runners: HashMap<String, (String, JoinHandle<()>)> = HashMap::new();
        // units being handed over: released once their runners finished
        let mut releasing: HashMap<String, JoinHandle<()>> = HashMap::new();
        let mut wake = self.store.wake().subscribe();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let looked = Instant::now();
            releasing.retain(|_, h| !h.is_finished());
            let replicas = self
                .store
                .heartbeat(&me, lease_ms)
                .await
                .unwrap_or_else(|_| vec![me.clone()]);
            let lanes = self.store.lanes().await.unwrap_or_default();
            let owners = self.store.unit_owners().await.unwrap_or_default();
            let now = Instant::now();
            for o in &owners {
                match watched.get_mut(&o.unit) {
                    Some(w) if w.seen == *o => {}
                    Some(w) => {
                        w.seen = o.clone();
                        w.since = now;
                    }
                    None => {
                        watched.insert(
                            o.unit.clone(),
                            Watched {
                                seen: o.clone(),
                                since: now,
                            },
                        );
                    }
                }
            }
            let mut units: Vec<String> = lanes.iter().map(|l| l.info.unit.clone()).collect();
            units.sort();
            units.dedup();
            let my_index = replicas.iter().position(|r| *r == me).unwrap_or(0);
            let n = replicas.len().max(1);
            for (i, unit) in units.iter().enumerate() {
                // Units spread over the live replicas by their sorted order.
                let mine = i % n == my_index;
                if let Some(lease) = held.get(unit).cloned() {
                    let sent = Instant::now();
                    match self
                        .store
                        .renew_unit(unit, &me, lease.fence, lease_ms)
                        .await
                    {
                        Ok(true) => lease.extend(sent + timing.lease - timing.margin),
                        Ok(false) => {
                            tracing::warn!(%unit, "lane unit taken by another replica; stopping its lanes");
                            let _ = lease.stop.send(true);
                            held.remove(unit);
                        }
                        // The deadline stops the runners if renewals keep failing.
                        Err(e) => tracing::warn!(%unit, error = %e, "renewing a lane unit failed"),
                    }
                    if !mine && held.contains_key(unit) {
                        // Another live replica's share (one joined): hand it over once our
                        // calls on it are finished.
                        if let Some(lease) = held.remove(unit) {
                            let _ = lease.stop.send(true);
                            let lanes_of_unit: Vec<String> = runners
                                .iter()
                                .filter(|(_, (u, _))| u == unit)
                                .map(|(l, _)| l.clone())
                                .collect();
                            let handles: Vec<JoinHandle<()>> = lanes_of_unit
                                .iter()
                                .filter_map(|l| runners.remove(l))
                                .map(|(_, h)| h)
                                .collect();
                            let store = self.store.clone();
                            let (u, owner) = (unit.clone(), me.clone());
                            releasing.insert(
                                unit.clone(),
                                tokio::spawn(async move {
                                    for h in handles {
                                        let _ = h.await;
                                    }
                                    let _ = store.release_unit(&u, &owner).await;
                                    tracing::info!(unit = %u, "lane unit handed over");
                                }),
                            );
                        }
                    }
                    continue;
                }
                if releasing.contains_key(unit) {
                    continue;
                }
                let Some(w) = watched.get(unit) else { continue };
                let unchanged = now.duration_since(w.since);
                let owner_alive = w.seen.owner.as_ref().is_some_and(|o| replicas.contains(o));
                let take = if w.seen.owner.is_none() {
                    // Free: its replica's share, or anyone's once nobody took it for a lease.
                    mine || unchanged >= timing.lease
                } else if w.seen.owner.as_deref() == Some(me.as_str()) {
                    // Ours from before a restart under the same id: take it back.
                    true
                } else {
                    // Held by another: only once it stayed unchanged for a whole lease; by
                    // anyone after two if its owner is gone and its designated replica did not.
                    (mine && unchanged >= timing.lease)
                        || (!owner_alive && unchanged >= timing.lease * 2)
                };
                if !take {
                    continue;
                }
                let sent = Instant::now();
                if let Ok(Some(fence)) = self.store.take_unit(&w.seen, &me, lease_ms).await {
                    let previous = w.seen.owner.clone();
                    tracing::info!(%unit, fence, previous = ?previous, "lane unit taken");
                    if previous.is_some() {
                        metrics::counter!("notify_lane_takeovers_total").increment(1);
                    }
                    for l in lanes.iter().filter(|l| &l.info.unit == unit) {
                        self.lane_state(&l.info).spend_burst();
                    }
                    held.insert(
                        unit.clone(),
                        Arc::new(UnitLease::new(fence, sent + timing.lease - timing.margin)),
                    );
                }
            }
            for lane in &lanes {
                let Some(lease) = held.get(&lane.info.unit) else {
                    continue;
                };
                let running = runners
                    .get(&lane.info.lane)
                    .is_some_and(|(_, h)| !h.is_finished());
                if running {
                    continue;
                }
                let state = self.lane_state(&lane.info);
                if lane.paused_until > self.store.now_ms() {
                    let mut p = state.pause.lock();
                    p.until_ms = p.until_ms.max(lane.paused_until);
                    p.probing = true;
                }
                let d = self.clone();
                let tx = done_tx.clone();
                let stop_rx = lease.stop.subscribe();
                let sd = shutdown.clone();
                let l = lease.clone();
                runners.insert(
                    lane.info.lane.clone(),
                    (
                        lane.info.unit.clone(),
                        tokio::spawn(async move { d.lane_loop(state, l, tx, stop_rx, sd).await }),
                    ),
                );
            }
            let woken = tokio::select! {
                _ = shutdown.changed() => false,
                // New lanes appear with new messages; their units are looked at soon.
                _ = wake.changed() => true,
                _ = tokio::time::sleep(timing.tick) => false,
            };
            if woken {
                // Ingress wakes this loop with every batch it commits: look at most ten
                // times a second.
                tokio::select! {
                    _ = shutdown.changed() => {}
                    _ = tokio::time::sleep_until(looked + Duration::from_millis(100)) => {}
                }
            }
        }
        for lease in held.values() {
            let _ = lease.stop.send(true);
        }
        for (_, (_, h)) in runners.drain() {
            let _ = h.await;
        }
        for (_, h) in releasing.drain() {
            let _ = h.await;
        }
        drop(done_tx);
        let _ = writer.await;
        keeper.abort();
        let _ = sweeper.await;
        for unit in held.keys() {
            let _ = self.store.release_unit(unit, &me).await;
        }
        let _ = self.store.forget_replica(&me).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lease_hands_a_dead_owners_lanes_over_within_fifteen_seconds() {
        let t = Timing::of(Duration::from_secs(10));
        // Last renewal up to a tick before the crash, a lease watched unchanged, one more tick.
        assert!(t.tick + t.lease + t.tick <= Duration::from_secs(15));
        assert!(
            t.margin >= Duration::from_secs(1),
            "a period of even a slow lane"
        );
    }
}
