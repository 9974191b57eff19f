//! Autovacuum's work on the gateway's tables when the Postgres server's autovacuum is off
//! (see `notify_store::upkeep` for why a queue's tables need it). Its own task, beside the
//! sweeper: a vacuum can take a second, and the sweeper's lease rescue should not wait for it.

use std::time::Duration;

use tokio::sync::watch;

use crate::Dispatcher;

/// How often the tables' counts are read; a table is then vacuumed or analyzed only if it is
/// due. Autovacuum looks once a minute, but a queue that grows from empty to 50,000 rows in
/// that minute would be read through plans made when it was empty. Every second is too often
/// the other way: `parts` (due after 1 % of its rows change) was then vacuumed every second
/// under load, at ~0.4 s each (BENCHMARKS.md, issue 19).
const LOOK_EVERY: Duration = Duration::from_secs(10);

impl Dispatcher {
    /// Until `shutdown` turns true, vacuums and analyzes the tables that autovacuum would, if
    /// the server's autovacuum is off; returns at once if it is on.
    pub(crate) async fn upkeep_loop(self, mut shutdown: watch::Receiver<bool>) {
        if !self.must_keep_tables().await {
            return;
        }
        loop {
            match self.store.upkeep().await {
                Ok(done) => {
                    if !done.vacuumed.is_empty() || !done.analyzed.is_empty() {
                        tracing::debug!(?done.vacuumed, ?done.analyzed, "table upkeep");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "vacuuming or analyzing tables failed"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// True when the database does not keep its tables by itself (Postgres with autovacuum
    /// off), which the operator is told once.
    async fn must_keep_tables(&self) -> bool {
        match self.store.keeps_itself().await {
            Ok(true) => false,
            Ok(false) => {
                tracing::warn!(
                    "autovacuum is off on this Postgres server: the gateway vacuums and \
                     analyzes its own tables by autovacuum's rules (docs/operations.md, \
                     \"Autovacuum must stay on\")"
                );
                true
            }
            Err(e) => {
                // Doing autovacuum's work twice costs little; a table never vacuumed costs
                // every claim.
                tracing::warn!(error = %e, "reading the autovacuum setting failed");
                true
            }
        }
    }
}
