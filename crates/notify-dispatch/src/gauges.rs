//! Gauges read from the store by the sweeper: queue depth by lane and status, and deliveries
//! by channel and status. Counters (calls, results, rate limits, quota, takeovers) are counted
//! where they happen; these are states, so they are read back.

use std::time::Duration;

use crate::Dispatcher;

/// Part statuses that make up a lane's queue.
const QUEUE_STATUSES: [&str; 3] = ["queued", "sending", "blocked"];

/// Deliveries created this far back are counted in `notify_deliveries`.
pub(crate) const DELIVERY_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Dispatcher {
    /// Sets `notify_queue_depth{lane, status}` for every known lane (0 for an empty one, so a
    /// drained lane does not keep its last value) and `notify_deliveries{channel, status}` over
    /// the deliveries created in the last 24 h.
    pub async fn refresh_gauges(&self) -> Result<(), notify_store::StoreError> {
        let lanes = self.store.lanes().await?;
        let depths = self.store.lane_depths().await?;
        for lane in &lanes {
            for status in QUEUE_STATUSES {
                let n = depths
                    .iter()
                    .find(|(l, s, _)| *l == lane.info.lane && s == status)
                    .map(|(_, _, n)| *n)
                    .unwrap_or(0);
                metrics::gauge!(
                    "notify_queue_depth",
                    "lane" => lane.info.lane.clone(),
                    "channel" => lane.info.channel.clone(),
                    "status" => status,
                )
                .set(n as f64);
            }
        }
        let since = self.store.now_ms() - DELIVERY_WINDOW.as_millis() as i64;
        for (channel, status, n) in self.store.stats(None, since).await? {
            metrics::gauge!("notify_deliveries", "channel" => channel, "status" => status)
                .set(n as f64);
        }
        Ok(())
    }
}
