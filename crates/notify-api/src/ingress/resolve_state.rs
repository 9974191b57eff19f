//! Resolve on the same WeLink card (contract §6): a resolved alert message does not send a new
//! WeLink card where the alert's card went out with a state; it updates that card to a green
//! `已恢复` / `resolved` instead. The update calls are planned here, where the channel adapters
//! are, and the store appends them to the original deliveries in the resolve's own insert
//! transaction (`NewMessage::state_updates`). The resolve's WeLink delivery then carries no
//! card of its own: it is stored with type `state_update`, status `sent` (handed over: the
//! update's progress is the `state` part on the original delivery) and no parts.

use notify_channels::StateUpdate;
use notify_core::{AlertStatus, DeliveryStatus, StateColor};
use notify_store::NewStateUpdate;

use crate::error::ApiError;
use crate::ingress::plan::{new_part, Accepted};
use crate::state::AppState;

/// The native type shown for a resolve's delivery that became state updates.
pub const STATE_UPDATE_TYPE: &str = "state_update";
/// How long the update calls may wait (as for `POST /v1/messages/{id}/state`).
const STATE_TTL_MS: i64 = 24 * 3_600_000;

/// The state a resolve puts on the alert's cards.
pub fn resolved_state() -> StateUpdate {
    StateUpdate {
        zh: "已恢复".into(),
        en: "resolved".into(),
        color: StateColor::Green,
    }
}

/// Turns a resolve's WeLink deliveries into state updates of the alert's sent cards on the
/// same channel, where those cards took a state; other messages are left as they are.
pub async fn attach(state: &AppState, accepted: &mut Accepted, now: i64) -> Result<(), ApiError> {
    let m = &mut accepted.message;
    let Some(alert) = &m.alert else { return Ok(()) };
    if alert.status != AlertStatus::Resolved {
        return Ok(());
    }
    // The kind whose cards take a state (the channel says which: WeLink's).
    let takes_state = |channel: &str| {
        state
            .channel(channel)
            .is_some_and(|h| h.adapter.takes_state())
    };
    let Some(kind) = m
        .deliveries
        .iter()
        .find(|d| takes_state(&d.channel))
        .map(|d| d.kind)
    else {
        return Ok(());
    };
    let cards = state
        .store()
        .alerts()
        .alert_sent_deliveries(&m.tenant, &alert.key, kind)
        .await?;
    if cards.is_empty() {
        return Ok(());
    }
    let update = resolved_state();
    for (i, d) in m.deliveries.iter_mut().enumerate() {
        if d.kind != kind {
            continue;
        }
        let Some(handle) = state.channel(&d.channel) else {
            continue;
        };
        let mut updates = Vec::new();
        for card in cards.iter().filter(|c| c.channel == d.channel) {
            // Each sent call is updated with its own users, as the state route does.
            let planned: Result<Vec<_>, String> = card
                .parts
                .iter()
                .filter(|p| p.op == "send")
                .filter_map(|p| Some((p.upstream_id.as_deref()?, p.recipients.as_slice())))
                .map(|(up, users)| handle.adapter.plan_state(up, users, &card.context, &update))
                .collect();
            // A card sent without a state cannot take one: the resolve card goes instead.
            if let Ok(plans) = planned {
                if !plans.is_empty() {
                    updates.push(NewStateUpdate {
                        delivery_id: card.id.clone(),
                        parts: plans.iter().map(|p| new_part(handle, p, 0, now)).collect(),
                        ttl_ms: STATE_TTL_MS,
                    });
                }
            }
        }
        if updates.is_empty() {
            continue;
        }
        let updated: Vec<&str> = updates.iter().map(|u| u.delivery_id.as_str()).collect();
        d.native_type = STATE_UPDATE_TYPE.into();
        d.status = DeliveryStatus::Sent;
        d.parts.clear();
        d.context = serde_json::json!({ "state_update_of": updated }).to_string();
        if let Some(a) = accepted.answer.deliveries.get_mut(i) {
            a.native_type = STATE_UPDATE_TYPE.into();
            a.status = DeliveryStatus::Sent.to_string();
            a.parts = 0;
        }
        m.state_updates.extend(updates);
    }
    m.response =
        serde_json::to_string(&accepted.answer).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(())
}
