//! Gauges read from the store by the sweeper: queue depth by lane and status, deliveries by
//! channel and status, and the states the operators' alerting rules watch
//! (`deploy/prometheus/alerts.yml`): each lane's calls in the last minute against its cap, how
//! long its oldest due part has waited, rejected credentials, Xiaowei quota left, live
//! replicas. Counters (calls, results, rate limits, quota, takeovers) are counted where they
//! happen; these are states, so they are read back, and every replica exports the same values.

use std::collections::BTreeSet;
use std::time::Duration;

use notify_core::clock::shanghai_day;
use notify_core::PartStatus;
use parking_lot::Mutex;

use crate::Dispatcher;

/// `(channel, code)` label sets of `notify_credential_rejected` set to 1 by this process. The
/// recorder is process-wide and keeps a series once written, so a rejection that was cleared
/// (or changed code) must be set back to 0 by whoever remembers having set it.
static REJECTED_SHOWN: Mutex<BTreeSet<(String, String)>> =
    parking_lot::const_mutex(BTreeSet::new());

/// Part statuses that make up a lane's queue.
const QUEUE_STATUSES: [PartStatus; 3] =
    [PartStatus::Queued, PartStatus::Sending, PartStatus::Blocked];

/// Deliveries created this far back are counted in `notify_deliveries`.
pub(crate) const DELIVERY_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Dispatcher {
    /// Sets `notify_queue_depth{lane, status}` for every known lane (0 for an empty one, so a
    /// drained lane does not keep its last value), `notify_deliveries{channel, status}` over
    /// the deliveries created in the last 24 h, and the alerting gauges
    /// ([`Dispatcher::refresh_alert_gauges`]).
    pub async fn refresh_gauges(&self) -> Result<(), notify_store::StoreError> {
        let lanes = self.store.lanes().lanes().await?;
        let depths = self.store.reads().lane_depths().await?;
        for lane in &lanes {
            for status in QUEUE_STATUSES {
                let n = depths
                    .iter()
                    .find(|(l, s, _)| *l == lane.info.lane && *s == status)
                    .map(|(_, _, n)| *n)
                    .unwrap_or(0);
                metrics::gauge!(
                    "notify_queue_depth",
                    "lane" => lane.info.lane.clone(),
                    "channel" => lane.info.channel.clone(),
                    "status" => status.as_str(),
                )
                .set(n as f64);
            }
        }
        let since = self.store.now_ms() - DELIVERY_WINDOW.as_millis() as i64;
        for (channel, status, n) in self.store.reads().stats(None, since).await? {
            metrics::gauge!("notify_deliveries", "channel" => channel, "status" => status.as_str())
                .set(n as f64);
        }
        self.refresh_alert_gauges(&lanes).await
    }

    /// Per lane: `notify_lane_calls_last_minute` (the attempt log's count, as `/v1/channels`
    /// shows it), `notify_lane_cap_per_minute` (for kinds with a cap) and
    /// `notify_queue_oldest_due_seconds` (0 when nothing is due). Per channel:
    /// `notify_credential_rejected{code}` and `notify_quota_left_today`. And
    /// `notify_replicas_live`.
    async fn refresh_alert_gauges(
        &self,
        lanes: &[notify_store::lanes::LaneRow],
    ) -> Result<(), notify_store::StoreError> {
        let now = self.store.now_ms();
        let calls = self.store.reads().lane_calls_since(now - 60_000).await?;
        let oldest = self.store.monitoring().lane_oldest_due(now).await?;
        for lane in lanes {
            let (name, channel) = (lane.info.lane.clone(), lane.info.channel.clone());
            let n = calls.get(&lane.info.lane).copied().unwrap_or(0);
            metrics::gauge!("notify_lane_calls_last_minute", "lane" => name.clone(), "channel" => channel.clone())
                .set(n as f64);
            let cap = self
                .channels
                .values()
                .find(|h| h.adapter.credential() == lane.info.credential)
                .and_then(|h| h.rate_limits());
            if let Some(cap) = cap {
                metrics::gauge!("notify_lane_cap_per_minute", "lane" => name.clone(), "channel" => channel.clone())
                    .set(f64::from(cap.per_minute));
            }
            let waited_ms = oldest
                .iter()
                .find(|(l, _)| *l == lane.info.lane)
                .map(|(_, due)| (now - due).max(0))
                .unwrap_or(0);
            metrics::gauge!("notify_queue_oldest_due_seconds", "lane" => name, "channel" => channel)
                .set(waited_ms as f64 / 1000.0);
        }

        let rejected = self.store.monitoring().rejected_credentials().await?;
        let mut shown = BTreeSet::new();
        for h in self.channels.values() {
            if h.adapter.token_request().is_none() {
                continue;
            }
            let credential = h.adapter.credential();
            for (_, code) in rejected.iter().filter(|(c, _)| *c == credential) {
                shown.insert((h.name.clone(), code.clone()));
            }
        }
        {
            let mut before = REJECTED_SHOWN.lock();
            for (channel, code) in before.difference(&shown) {
                metrics::gauge!("notify_credential_rejected", "channel" => channel.clone(), "code" => code.clone())
                    .set(0.0);
            }
            for (channel, code) in &shown {
                metrics::gauge!("notify_credential_rejected", "channel" => channel.clone(), "code" => code.clone())
                    .set(1.0);
            }
            before.extend(shown);
        }

        let day = shanghai_day(now);
        for h in self.channels.values() {
            if let (Some(quota), Some(key)) = (h.daily_quota(), h.quota_key()) {
                let (used, closed) = self.store.quota().quota_used(&key, day).await?;
                let left = if closed {
                    0
                } else {
                    (i64::from(quota) - used).max(0)
                };
                metrics::gauge!("notify_quota_left_today", "channel" => h.name.clone())
                    .set(left as f64);
            }
        }

        let live = self.store.monitoring().live_replicas(now).await?;
        metrics::gauge!("notify_replicas_live").set(live as f64);
        Ok(())
    }
}
