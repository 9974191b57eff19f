//! The fallback loop (contract §7): turns each pending fallback the store wrote (a delivery
//! with a fallback ended `failed` / `expired`, or `sent` with refused directory people) into
//! one more delivery of the same message, planned by the fallback channel's adapter with the
//! same code as ingress ([`plan_target`]), `fallback_of` the primary delivery.
//!
//! It wakes on the store's fallback wake-up (a commit in this process made a fallback due) and
//! polls every [`POLL`] for those other replicas made due. Replicas may race for one row:
//! [`notify_store::Outbox::insert_fallback`] deletes the pending row as its fence, so exactly
//! one adds the delivery; a crash before the commit leaves the row for the next pass.

use std::time::Duration;

use notify_core::validate;
use notify_core::{MessageInput, ValidationLimits};
use notify_store::{NewDelivery, PendingFallback};
use tokio::sync::watch;

use crate::ingress::plan::plan_target;
use crate::state::AppState;

/// How often the loop looks without a wake-up (other replicas' fallbacks, a missed wake-up).
pub const POLL: Duration = Duration::from_secs(1);

/// Pending fallbacks planned per pass.
const BATCH: i64 = 100;

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut wake = state.store().fallback_wake().subscribe();
    loop {
        match pass(&state).await {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "fallback pass failed; trying again"),
        }
        tokio::select! {
            _ = wake.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Plans and adds every pending fallback (up to a batch). Returns how many were handled.
pub async fn pass(state: &AppState) -> Result<usize, notify_store::StoreError> {
    let pending = state.store().outbox().pending_fallbacks(BATCH).await?;
    let now = state.store().now_ms();
    for p in &pending {
        let delivery = match plan(state, p, now) {
            Ok(d) => d,
            Err(why) => {
                // A fallback that cannot be planned now never will be (its channel left the
                // config, its text no longer fits): dropped loudly rather than retried forever.
                tracing::warn!(delivery = %p.delivery_id, message = %p.message_id, %why, "fallback not sent");
                metrics::counter!("notify_fallbacks_dropped_total").increment(1);
                None
            }
        };
        let added = state
            .store()
            .outbox()
            .insert_fallback(&p.delivery_id, delivery.as_ref(), p.expires_at(now))
            .await?;
        if let (true, Some(d)) = (added, &delivery) {
            tracing::info!(primary = %p.delivery_id, fallback = %d.id, channel = %d.channel, message = %p.message_id, "fallback delivery added");
            metrics::counter!("notify_fallbacks_total", "channel" => d.channel.clone())
                .increment(1);
        }
    }
    Ok(pending.len())
}

/// The fallback delivery of `p`, planned now; `Ok(None)` when no recipient is left to reach.
fn plan(state: &AppState, p: &PendingFallback, now: i64) -> Result<Option<NewDelivery>, String> {
    let Some(target) = p.target() else {
        return Ok(None);
    };
    let handle = state
        .channel(&target.channel)
        .ok_or_else(|| format!("no channel {:?} is configured", target.channel))?;
    let input = MessageInput::from_json(p.body.as_bytes()).map_err(|e| format!("{e:?}"))?;
    let limits = ValidationLimits {
        default_ttl_ms: state.config().default_ttl_ms,
        ..ValidationLimits::default()
    };
    // Checked as at its acceptance: the same answers as then.
    let checked = validate::check(input, p.created_at, &limits, |name| {
        state.channel(name).is_some()
    })
    .map_err(|e| format!("{}: {}", e.field, e.message))?;
    // The store numbers it after the message's other deliveries.
    let delivery = plan_target(handle, &checked, &target, 0, now)
        .map_err(|e| format!("{}: {}", e.field, e.message))?;
    Ok(Some(delivery))
}
