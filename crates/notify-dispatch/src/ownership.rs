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
//! (`Lanes::take_unit`). The row it saw was written after the owner's last renewal was sent, so
//! the owner stopped sending at least `margin` before the takeover — whatever the replicas'
//! wall clocks say. The fence grows with each new owner.
//!
//! # Starting with the burst spent
//!
//! A new owner's paces start as if they had just admitted a call: the first call waits one
//! period. The paces have a burst of one (`notify_upstream::pace`), so the sliding-window bound only needs
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

use notify_store::lanes::{LaneRow, UnitOwner};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::Dispatcher;

/// The runners of the lanes this replica drains: lane → (its unit, its runner).
pub(crate) type Runners = HashMap<String, (String, JoinHandle<()>)>;

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

    /// The stop signal of the unit's runners: it turns true when the unit is lost or handed over.
    pub(crate) fn stopped(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

/// What this replica last saw of a unit's row, and since when it has not changed.
struct Watched {
    seen: UnitOwner,
    since: Instant,
}

/// The supervisor's timing, derived from the lane lease.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    lease: Duration,
    /// How long before its lease ends an owner stops sending.
    margin: Duration,
    /// How often units are renewed and watched.
    pub(crate) tick: Duration,
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

/// The units this replica holds, watches and is handing over.
pub(crate) struct Units {
    me: String,
    pub(crate) timing: Timing,
    held: HashMap<String, Arc<UnitLease>>,
    watched: HashMap<String, Watched>,
    /// Units being handed over: released once their runners finished.
    releasing: HashMap<String, JoinHandle<()>>,
}

impl Units {
    /// No units yet, for `d`'s replica.
    pub(crate) fn new(d: &Dispatcher) -> Self {
        Self {
            me: d.config.replica_id.clone(),
            timing: Timing::of(d.config.lane_lease),
            held: HashMap::new(),
            watched: HashMap::new(),
            releasing: HashMap::new(),
        }
    }

    fn lease_ms(&self) -> i64 {
        self.timing.lease.as_millis() as i64
    }

    /// The lease of `unit`, while this replica holds it.
    pub(crate) fn lease(&self, unit: &str) -> Option<&Arc<UnitLease>> {
        self.held.get(unit)
    }

    /// One look: heartbeats, renews the units held (handing over those another live replica
    /// should now run, with the runners of their lanes) and takes the units due to this
    /// replica. Returns the lanes as the store has them.
    pub(crate) async fn look(&mut self, d: &Dispatcher, runners: &mut Runners) -> Vec<LaneRow> {
        self.releasing.retain(|_, h| !h.is_finished());
        let replicas = d
            .store
            .lanes()
            .heartbeat(&self.me, self.lease_ms())
            .await
            .unwrap_or_else(|_| vec![self.me.clone()]);
        let lanes = d.store.lanes().lanes().await.unwrap_or_default();
        let owners = d.store.lanes().unit_owners().await.unwrap_or_default();
        let now = Instant::now();
        self.watch(&owners, now);
        let mut units: Vec<String> = lanes.iter().map(|l| l.info.unit.clone()).collect();
        units.sort();
        units.dedup();
        let my_index = replicas.iter().position(|r| *r == self.me).unwrap_or(0);
        let n = replicas.len().max(1);
        for (i, unit) in units.iter().enumerate() {
            // Units spread over the live replicas by their sorted order.
            let mine = i % n == my_index;
            if let Some(lease) = self.held.get(unit).cloned() {
                self.renew(d, unit, &lease).await;
                if !mine && self.held.contains_key(unit) {
                    self.hand_over(d, unit, runners);
                }
                continue;
            }
            if self.may_take(unit, mine, &replicas, now) {
                self.take(d, unit, &lanes).await;
            }
        }
        lanes
    }

    /// Notes the rows that changed since the last look.
    fn watch(&mut self, owners: &[UnitOwner], now: Instant) {
        for o in owners {
            match self.watched.get_mut(&o.unit) {
                Some(w) if w.seen == *o => {}
                Some(w) => {
                    w.seen = o.clone();
                    w.since = now;
                }
                None => {
                    self.watched.insert(
                        o.unit.clone(),
                        Watched {
                            seen: o.clone(),
                            since: now,
                        },
                    );
                }
            }
        }
    }

    /// Renews a held unit; one another replica took stops its lanes.
    async fn renew(&mut self, d: &Dispatcher, unit: &str, lease: &UnitLease) {
        let sent = Instant::now();
        match d
            .store
            .lanes()
            .renew_unit(unit, &self.me, lease.fence, self.lease_ms())
            .await
        {
            Ok(true) => lease.extend(sent + self.timing.lease - self.timing.margin),
            Ok(false) => {
                tracing::warn!(%unit, "lane unit taken by another replica; stopping its lanes");
                let _ = lease.stop.send(true);
                self.held.remove(unit);
            }
            // The deadline stops the runners if renewals keep failing.
            Err(e) => tracing::warn!(%unit, error = %e, "renewing a lane unit failed"),
        }
    }

    /// Another live replica's share (one joined): hand it over once our calls on it are
    /// finished.
    fn hand_over(&mut self, d: &Dispatcher, unit: &str, runners: &mut Runners) {
        let Some(lease) = self.held.remove(unit) else {
            return;
        };
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
        let store = d.store.clone();
        let (u, owner) = (unit.to_string(), self.me.clone());
        self.releasing.insert(
            unit.to_string(),
            tokio::spawn(async move {
                for h in handles {
                    let _ = h.await;
                }
                let _ = store.lanes().release_unit(&u, &owner).await;
                tracing::info!(unit = %u, "lane unit handed over");
            }),
        );
    }

    /// Whether to try taking a unit this replica does not hold.
    fn may_take(&self, unit: &str, mine: bool, replicas: &[String], now: Instant) -> bool {
        if self.releasing.contains_key(unit) {
            return false;
        }
        let Some(w) = self.watched.get(unit) else {
            return false;
        };
        let unchanged = now.duration_since(w.since);
        let lease = self.timing.lease;
        let owner_alive = w.seen.owner.as_ref().is_some_and(|o| replicas.contains(o));
        if w.seen.owner.is_none() {
            // Free: its replica's share, or anyone's once nobody took it for a lease.
            mine || unchanged >= lease
        } else if w.seen.owner.as_deref() == Some(self.me.as_str()) {
            // Ours from before a restart under the same id: take it back.
            true
        } else {
            // Held by another: only once it stayed unchanged for a whole lease; by anyone
            // after two if its owner is gone and its designated replica did not.
            (mine && unchanged >= lease) || (!owner_alive && unchanged >= lease * 2)
        }
    }

    /// Takes `unit` by compare-and-set on the row last seen; its lanes start with the burst
    /// of their paces spent.
    async fn take(&mut self, d: &Dispatcher, unit: &str, lanes: &[LaneRow]) {
        let Some(w) = self.watched.get(unit) else {
            return;
        };
        let sent = Instant::now();
        if let Ok(Some(fence)) = d
            .store
            .lanes()
            .take_unit(&w.seen, &self.me, self.lease_ms())
            .await
        {
            let previous = w.seen.owner.clone();
            tracing::info!(%unit, fence, previous = ?previous, "lane unit taken");
            if previous.is_some() {
                metrics::counter!("notify_lane_takeovers_total").increment(1);
            }
            for l in lanes.iter().filter(|l| l.info.unit == unit) {
                d.lane_state(&l.info).spend_burst();
            }
            self.held.insert(
                unit.to_string(),
                Arc::new(UnitLease::new(
                    fence,
                    sent + self.timing.lease - self.timing.margin,
                )),
            );
        }
    }

    /// Stops the runners of every held unit (shutdown).
    pub(crate) fn stop_all(&self) {
        for lease in self.held.values() {
            let _ = lease.stop.send(true);
        }
    }

    /// Waits for the hand-overs in progress.
    pub(crate) async fn finish_hand_overs(&mut self) {
        for (_, h) in self.releasing.drain() {
            let _ = h.await;
        }
    }

    /// Releases every held unit and forgets this replica (shutdown, after its calls are
    /// written).
    pub(crate) async fn release_all(&self, d: &Dispatcher) {
        for unit in self.held.keys() {
            let _ = d.store.lanes().release_unit(unit, &self.me).await;
        }
        let _ = d.store.lanes().forget_replica(&self.me).await;
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
