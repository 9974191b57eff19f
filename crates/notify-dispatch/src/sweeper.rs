//! The sweeper: once a second it rescues parts whose leases ran out and expires late work,
//! queues the recalls asked for during sends that have ended, refreshes the gauges (every 5 s)
//! and purges finished messages past their retention (every minute).

use std::time::Duration;

use tokio::sync::watch;

use crate::Dispatcher;

impl Dispatcher {
    /// Sweeps until `shutdown` turns true.
    pub(crate) async fn sweep_loop(self, mut shutdown: watch::Receiver<bool>) {
        let mut last_purge = 0i64;
        let mut last_gauges = 0i64;
        loop {
            self.sweep_once().await;
            let now = self.store.now_ms();
            if now - last_gauges >= 5_000 {
                last_gauges = now;
                if let Err(e) = self.refresh_gauges().await {
                    tracing::warn!(error = %e, "reading gauges failed");
                }
            }
            if now - last_purge > 60_000 {
                last_purge = now;
                self.purge_finished(now).await;
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

    /// Rescues expired leases, expires late work, queues pending recalls.
    async fn sweep_once(&self) {
        match self.store.outbox().sweep().await {
            Ok(r) if r.rescued > 0 || r.expired > 0 => {
                tracing::info!(rescued = r.rescued, expired = r.expired, "sweep");
                metrics::counter!("notify_lease_takeovers_total").increment(r.rescued);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        if let Err(e) = self.finish_pending_recalls().await {
            tracing::warn!(error = %e, "pending recalls");
        }
    }

    /// Purges messages finished before the retention, 500 at a time.
    async fn purge_finished(&self, now: i64) {
        let before = now - self.config.retention.as_millis() as i64;
        while let Ok(n) = self.store.outbox().purge_finished(before, 500).await {
            if n == 0 {
                break;
            }
        }
    }
}
