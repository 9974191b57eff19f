//! Recalls asked for while a send was in flight ("`sending` → recalled as soon as its send
//! ends", contract §3): once none of the delivery's calls is in flight, the recall goes ahead
//! as the API's would.

use notify_core::DeliveryStatus;
use notify_store::outbox::RecallStart;
use notify_store::{NewPart, StoreError};

use crate::Dispatcher;

/// How long a recall queued by the dispatcher may wait in the outbox (as the API's recalls).
const RECALL_TTL_MS: i64 = 24 * 3600 * 1000;

impl Dispatcher {
    /// Recalls asked for while a send was in flight ("`sending` → recalled as soon as its send
    /// ends", contract §3): once none of the delivery's calls is in flight, its recall goes
    /// ahead as the API's would — unsent calls cancelled, recall calls queued for the sent
    /// ones. Returns how many deliveries it handled.
    pub async fn finish_pending_recalls(&self) -> Result<usize, StoreError> {
        let ids = self.store.outbox().take_pending_recalls().await?;
        for id in &ids {
            if let Err(e) = self.recall_after_send(id).await {
                tracing::warn!(delivery = %id, error = %e, "a recall asked for during a send could not be queued");
            }
        }
        Ok(ids.len())
    }

    async fn recall_after_send(&self, delivery_id: &str) -> Result<(), StoreError> {
        let RecallStart::Sent(sent) = self.store.outbox().start_recall(delivery_id).await? else {
            // Cancelled (nothing had left), pending again (a retry was claimed meanwhile: the
            // flag is set again) or final: nothing more to do here.
            return Ok(());
        };
        let Some((message_id, _)) = self.store.reads().delivery_owner(delivery_id).await? else {
            return Ok(());
        };
        let Some(d) = self
            .store
            .reads()
            .get_message(None, &message_id)
            .await?
            .and_then(|m| m.deliveries.into_iter().find(|d| d.id == delivery_id))
        else {
            return Ok(());
        };
        let Some(handle) = self.channels.get(&d.channel) else {
            let reason = format!("channel {:?} is no longer configured", d.channel);
            return self
                .store
                .outbox()
                .set_delivery_status(delivery_id, DeliveryStatus::RecallFailed, Some(&reason))
                .await;
        };
        let now = self.store.now_ms();
        let recall = match handle
            .plan_recall_parts(sent.iter().map(|(_, u)| u.as_str()), &d.context)
        {
            Ok(recall) => recall,
            Err(reason) => {
                return self
                    .store
                    .outbox()
                    .set_delivery_status(delivery_id, DeliveryStatus::NotRecallable, Some(&reason))
                    .await
            }
        };
        let parts: Vec<_> = recall
            .calls
            .into_iter()
            .map(|c| NewPart::planned(c.lane, &c.plan, 0, now))
            .collect();
        tracing::info!(delivery = %delivery_id, calls = parts.len(), "send ended; queuing the recall asked for during it");
        self.store
            .outbox()
            .append_parts(delivery_id, &parts, RECALL_TTL_MS)
            .await
    }
}
