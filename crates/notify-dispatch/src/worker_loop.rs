//! The dispatcher's main loop: it starts the completion writer, the sweeper, the part-lease
//! keeper and the table upkeep, looks at lane ownership every tick (or soon after ingress wakes
//! it) and runs one lane runner per owned lane; on shutdown it lets the runners finish their calls, writes
//! their completions and releases the units.

use std::time::Duration;

use notify_store::lanes::LaneRow;
use notify_store::Completion;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::ownership::{Runners, Units};
use crate::Dispatcher;

impl Dispatcher {
    /// Runs until `shutdown` turns true: owns lanes, drains them, sweeps. In-flight calls are
    /// finished and their results written before it returns; owned lanes are released.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::channel::<Completion>(4096);
        let writer = tokio::spawn(self.clone().write_completions(done_rx));
        let sweeper = tokio::spawn(self.clone().sweep_loop(shutdown.clone()));
        let keeper = tokio::spawn(self.clone().keep_part_leases());
        let upkeep = tokio::spawn(self.clone().upkeep_loop(shutdown.clone()));
        let mut units = Units::new(&self);
        let mut runners: Runners = Runners::new();
        let mut wake = self.store.wake().subscribe();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let looked = Instant::now();
            let lanes = units.look(&self, &mut runners).await;
            self.start_runners(&lanes, &units, &mut runners, &done_tx, &shutdown);
            let woken = tokio::select! {
                _ = shutdown.changed() => false,
                // New lanes appear with new messages; their units are looked at soon.
                _ = wake.changed() => true,
                _ = tokio::time::sleep(units.timing.tick) => false,
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
        units.stop_all();
        for (_, (_, h)) in runners.drain() {
            let _ = h.await;
        }
        units.finish_hand_overs().await;
        drop(done_tx);
        let _ = writer.await;
        keeper.abort();
        let _ = sweeper.await;
        let _ = upkeep.await;
        units.release_all(&self).await;
    }

    /// Starts a runner for every lane of a held unit that has none running; a lane the store
    /// has paused starts with the pause, so its first call is a probe.
    fn start_runners(
        &self,
        lanes: &[LaneRow],
        units: &Units,
        runners: &mut Runners,
        done: &mpsc::Sender<Completion>,
        shutdown: &watch::Receiver<bool>,
    ) {
        for lane in lanes {
            let Some(lease) = units.lease(&lane.info.unit) else {
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
            let tx = done.clone();
            let stop_rx = lease.stopped();
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
    }
}
