//! A lane's runner, while this replica owns the lane: it claims parts, waits out pauses, sends
//! the one probe after a pause alone, and runs up to [`LANE_CONCURRENCY`] calls at once (the
//! paces space their starts). Each part passes admission and the gate before its call, and the
//! lane learns from its answer. [`Dispatcher::run_once`] runs one round of every lane for tests.

use std::future::{pending, Future};
use std::sync::Arc;
use std::time::Duration;

use notify_store::{ClaimedPart, Completion};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

use crate::admission::{paused, Gate};
use crate::completion::completion_of;
use crate::lane::LaneState;
use crate::ownership::UnitLease;
use crate::pause::{turn, Turn};
use crate::{Dispatcher, RoundReport};

/// Calls a lane has in flight at once; its pace spaces their starts.
const LANE_CONCURRENCY: usize = 16;

/// The stop signals of a lane runner: its unit's (lost or handed over) and the process's.
struct Stops {
    stop: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
}

impl Stops {
    fn any(&self) -> bool {
        *self.stop.borrow() || *self.shutdown.borrow()
    }

    /// Waits for `a`, `b` or a stop signal, whichever comes first.
    async fn wait(&mut self, a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
        tokio::select! {
            _ = a => {}
            _ = b => {}
            _ = self.stop.changed() => {}
            _ = self.shutdown.changed() => {}
        }
    }
}

/// The parts a lane runner has in flight, and where their completions go.
struct Flight<'a> {
    state: &'a Arc<LaneState>,
    lease: &'a Arc<UnitLease>,
    done: &'a mpsc::Sender<Completion>,
    tasks: JoinSet<()>,
}

impl Dispatcher {
    /// Drains one lane while this replica owns it: claims, paces, probes after pauses.
    pub(crate) async fn lane_loop(
        self,
        state: Arc<LaneState>,
        lease: Arc<UnitLease>,
        done: mpsc::Sender<Completion>,
        stop: watch::Receiver<bool>,
        shutdown: watch::Receiver<bool>,
    ) {
        let mut stops = Stops { stop, shutdown };
        let mut wake = self.store.wake().subscribe();
        let mut flight = Flight {
            state: &state,
            lease: &lease,
            done: &done,
            tasks: JoinSet::new(),
        };
        let no_group = Notify::new();
        while !stops.any() {
            let changed = state.group.as_ref().map_or(&no_group, |g| &g.changed);
            if !lease.may_send() {
                // Renewals failed for a while: claim nothing until the supervisor renews the
                // lease (or stops this runner).
                stops
                    .wait(tokio::time::sleep(Duration::from_millis(100)), pending())
                    .await;
                continue;
            }
            let now = self.store.now_ms();
            let paused_until = state.paused_until();
            if paused_until > now {
                let wait = Duration::from_millis((paused_until - now) as u64);
                stops
                    .wait(tokio::time::sleep(wait), changed.notified())
                    .await;
                continue;
            }
            let probe = match turn(&state) {
                Turn::WaitForGroupProbe => {
                    let retry = tokio::time::sleep(Duration::from_millis(200));
                    stops.wait(changed.notified(), retry).await;
                    continue;
                }
                Turn::Open => None,
                Turn::Probe(token) => Some(token),
            };
            let n = if probe.is_some() {
                1
            } else {
                self.config.claim_batch
            };
            let Some(parts) = self.claim_for(&state, n).await else {
                drop(probe);
                tokio::time::sleep(self.config.poll_interval).await;
                continue;
            };
            self.hold(&parts);
            if parts.is_empty() {
                drop(probe);
                let woken = async {
                    let _ = wake.changed().await;
                };
                stops
                    .wait(woken, tokio::time::sleep(self.config.poll_interval))
                    .await;
                continue;
            }
            if probe.is_some() {
                self.run_probe(&mut flight, parts).await;
                drop(probe);
                continue;
            }
            self.start_calls(&mut flight, parts).await;
        }
        while flight.tasks.join_next().await.is_some() {}
    }

    /// Claims up to `n` parts of the lane; `None` when the store failed (logged).
    async fn claim_for(&self, state: &LaneState, n: i64) -> Option<Vec<ClaimedPart>> {
        let claimed = self
            .store
            .outbox()
            .claim(
                &state.info.lane,
                &self.config.replica_id,
                n,
                self.config.part_lease.as_millis() as i64,
            )
            .await;
        claimed
            .map_err(|e| tracing::warn!(lane = %state.info.lane, error = %e, "claim failed"))
            .ok()
    }

    /// The probe goes alone: the lane's earlier calls finish first.
    async fn run_probe(&self, flight: &mut Flight<'_>, parts: Vec<ClaimedPart>) {
        while flight.tasks.join_next().await.is_some() {}
        for part in parts {
            let c = self.run_part(flight.state, part, Some(flight.lease)).await;
            let _ = flight.done.send(c).await;
        }
    }

    /// Starts the calls of `parts`, with bounded concurrency per lane; the paces space the
    /// starts.
    async fn start_calls(&self, flight: &mut Flight<'_>, parts: Vec<ClaimedPart>) {
        for part in parts {
            while flight.tasks.len() >= LANE_CONCURRENCY {
                flight.tasks.join_next().await;
            }
            let d = self.clone();
            let st = flight.state.clone();
            let tx = flight.done.clone();
            let l = flight.lease.clone();
            flight.tasks.spawn(async move {
                let c = d.run_part(&st, part, Some(&l)).await;
                let _ = tx.send(c).await;
            });
        }
    }

    /// Executes the part through the lane's gate (see [`Gate`]); a part of a paused lane goes
    /// back to the queue at once without a call and without spending an attempt.
    async fn run_part(
        &self,
        state: &LaneState,
        part: ClaimedPart,
        lease: Option<&UnitLease>,
    ) -> Completion {
        if let Some(requeued) = paused(state, self.store.now_ms()) {
            return completion_of(&part, requeued, None);
        }
        let gate = Gate { state, lease };
        let (completion, signal) = self.execute_gated(&part, Some(&gate)).await;
        self.learn(state, signal);
        completion
    }

    /// Claims one batch of every known lane and runs it to completion, respecting limits and
    /// pauses. For tests and tools: no ownership, no sleeping for wake-ups.
    pub async fn run_once(&self) -> Result<RoundReport, notify_store::StoreError> {
        // Recalls asked for during a send that has ended since: queued first, so this round
        // already makes them.
        self.finish_pending_recalls().await?;
        let mut report = RoundReport::default();
        for lane in self.store.lanes().lanes().await? {
            let state = self.lane_state(&lane.info);
            let parts = self
                .store
                .outbox()
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
            self.store.outbox().complete(&completions).await?;
        }
        Ok(report)
    }
}
