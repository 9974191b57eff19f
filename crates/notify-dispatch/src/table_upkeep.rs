//! Autovacuum's work on the gateway's tables when the Postgres server's autovacuum is off
//! (see `notify_store::upkeep` for why a queue's tables need it), as often as autovacuum would
//! look (`autovacuum_naptime`, a minute by default). Its own task, beside the sweeper: a vacuum
//! can take a second, and the sweeper's lease rescue should not wait for it.
//!
//! Looking more often was measured and is worse: every 10 s (so `parts`, due after 1 % of its
//! rows change, was vacuumed every 10 s under load) cost a quarter of the ingress rate in a
//! 60-s run (BENCHMARKS.md, issue 19).

use tokio::sync::watch;

use crate::Dispatcher;

impl Dispatcher {
    /// Until `shutdown` turns true, vacuums and analyzes the tables that autovacuum would, if
    /// the server's autovacuum is off; returns at once if it is on.
    pub(crate) async fn upkeep_loop(self, mut shutdown: watch::Receiver<bool>) {
        if !self.must_keep_tables().await {
            return;
        }
        let look_every = match self.store.autovacuum_naptime().await {
            Ok(naptime) => naptime,
            Err(e) => {
                tracing::warn!(error = %e, "reading autovacuum_naptime failed; using 60 s");
                std::time::Duration::from_secs(60)
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(look_every) => {}
            }
            if *shutdown.borrow() {
                return;
            }
            match self.store.upkeep().await {
                Ok(done) => {
                    if !done.vacuumed.is_empty() || !done.analyzed.is_empty() {
                        tracing::debug!(?done.vacuumed, ?done.analyzed, "table upkeep");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "vacuuming or analyzing tables failed"),
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
