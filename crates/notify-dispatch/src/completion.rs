//! The completion writer: a part's completion (its result and attempt) is written back in
//! batches; until it is, the part is held and its lease renewed, so a slow call or a long wait
//! for its lane's pace never lets another replica re-send it.

use std::time::Duration;

use notify_store::{AttemptRecord, ClaimedPart, Completion, PartResult};
use tokio::sync::mpsc;

use crate::Dispatcher;

/// The most completions written in one transaction.
const BATCH: usize = 256;

/// The completion of `part`: its result and the attempt to record.
pub(crate) fn completion_of(
    part: &ClaimedPart,
    result: PartResult,
    attempt: Option<AttemptRecord>,
) -> Completion {
    Completion {
        part_id: part.id.clone(),
        lease_token: part.lease_token.clone(),
        result,
        attempt,
    }
}

impl Dispatcher {
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
                .outbox()
                .renew_leases(&self.config.replica_id, &tokens, lease_ms)
                .await
            {
                tracing::warn!(error = %e, "renewing part leases failed");
            }
        }
    }

    /// Writes completions in batches: whatever has finished by the time the previous batch is
    /// committed goes in the next one.
    pub(crate) async fn write_completions(self, mut rx: mpsc::Receiver<Completion>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            self.write_batch(&batch).await;
        }
    }

    /// Writes one batch, retrying until the store takes it.
    async fn write_batch(&self, batch: &[Completion]) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.store.outbox().complete(batch).await {
                Ok(_) => {
                    self.release(batch.iter().map(|c| c.lease_token.as_str()));
                    return;
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
