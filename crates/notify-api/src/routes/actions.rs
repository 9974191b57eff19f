//! Actions on sent messages: recall, card state update, admin retry. Each adds parts to the
//! outbox; the dispatcher makes the calls.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use notify_channels::StateUpdate;
use notify_core::validate::check_state_text;
use notify_core::{Bilingual, DeliveryId, DeliveryStatus, MessageId, StateColor};
use notify_store::outbox::RecallStart;
use notify_store::{DeliveryView, MessageView, NewPart};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::ingress::plan::new_part;
use crate::state::AppState;
use crate::views::{ActionAnswer, DeliveryAction};

/// How long recall and state calls may wait in the outbox.
const ACTION_TTL_MS: i64 = 24 * 3600 * 1000;

/// The message `id` for an action by `caller`: 404 when it does not exist, 403 when it is
/// another tenant's.
pub(crate) async fn message_for_action(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<MessageView, ApiError> {
    let not_found = || ApiError::NotFound(format!("no message {id:?}"));
    if MessageId::parse(id).is_none() {
        return Err(not_found());
    }
    tracing::Span::current().record("message", id);
    let m = state
        .store()
        .reads()
        .get_message(None, id)
        .await?
        .ok_or_else(not_found)?;
    if !caller.may_see(&m.tenant) {
        tracing::warn!(access_key = %caller.access_key, message = id, "refused: another tenant's message");
        return Err(ApiError::Forbidden(
            "this message belongs to another tenant".into(),
        ));
    }
    Ok(m)
}

fn action(
    d: &DeliveryView,
    status: DeliveryStatus,
    accepted: bool,
    reason: Option<String>,
) -> DeliveryAction {
    DeliveryAction {
        id: d.id.clone(),
        channel: d.channel.clone(),
        status,
        accepted,
        reason,
    }
}

/// Recalls a message everywhere it can be recalled.
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/recall",
    tag = "actions",
    params(("id" = String, Path, description = "msg_…")),
    responses(
        (status = 202, description = "Per-delivery outcome; asking again gives the same answer", body = ActionAnswer),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the recall scope, or another tenant's message", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn recall(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<ActionAnswer>), ApiError> {
    caller.require("recall")?;
    let m = message_for_action(&state, &caller, &id).await?;
    let mut deliveries = Vec::with_capacity(m.deliveries.len());
    for d in &m.deliveries {
        let a = recall_one(&state, d).await?;
        tracing::info!(message = %m.id, delivery = %d.id, channel = %d.channel, status = %a.status, access_key = %caller.access_key, "recall");
        deliveries.push(a);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(ActionAnswer {
            id: m.id,
            deliveries,
        }),
    ))
}

async fn recall_one(state: &AppState, d: &DeliveryView) -> Result<DeliveryAction, ApiError> {
    let store = state.store();
    match store.outbox().start_recall(&d.id).await? {
        RecallStart::Cancelled => Ok(action(
            d,
            DeliveryStatus::Cancelled,
            true,
            Some("cancelled before it was sent".into()),
        )),
        RecallStart::Pending => Ok(action(
            d,
            DeliveryStatus::Recalling,
            true,
            Some("recalling when its send ends".into()),
        )),
        RecallStart::Final(status) => Ok(match status {
            DeliveryStatus::Recalling | DeliveryStatus::Recalled | DeliveryStatus::Cancelled => {
                action(d, status, true, None)
            }
            _ => action(
                d,
                status,
                false,
                Some(
                    d.last_error
                        .clone()
                        .unwrap_or_else(|| format!("the delivery is {status}: nothing to recall")),
                ),
            ),
        }),
        RecallStart::Sent(sent) => {
            let Some(handle) = state.channel(&d.channel) else {
                let reason = format!("channel {:?} is no longer configured", d.channel);
                store
                    .outbox()
                    .set_delivery_status(&d.id, DeliveryStatus::RecallFailed, Some(&reason))
                    .await?;
                return Ok(action(d, DeliveryStatus::RecallFailed, false, Some(reason)));
            };
            let now = store.now_ms();
            let recall = match handle
                .plan_recall_parts(sent.iter().map(|(_, u)| u.as_str()), &d.context)
            {
                Ok(recall) => recall,
                Err(reason) => {
                    store
                        .outbox()
                        .set_delivery_status(&d.id, DeliveryStatus::NotRecallable, Some(&reason))
                        .await?;
                    return Ok(action(
                        d,
                        DeliveryStatus::NotRecallable,
                        false,
                        Some(reason),
                    ));
                }
            };
            let calls: Vec<_> = recall
                .calls
                .into_iter()
                .map(|c| NewPart::planned(c.lane, &c.plan, 0, now))
                .collect();
            store
                .outbox()
                .append_parts(&d.id, &calls, ACTION_TTL_MS)
                .await?;
            Ok(action(d, DeliveryStatus::Recalling, true, recall.refusal))
        }
    }
}

/// `POST /v1/messages/{id}/state` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// `{"zh": "已处理", "en": "processed"}`: Chinese 2–5, English 2–10 characters.
    pub state: Bilingual,
    /// `gray` | `yellow` | `green`.
    pub state_color: StateColor,
}

/// Updates the WeLink card state of the deliveries sent with a state.
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/state",
    tag = "actions",
    params(("id" = String, Path, description = "msg_…")),
    request_body = StateRequest,
    responses(
        (status = 202, description = "Per delivery: queued, or why it cannot take a state", body = ActionAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the send scope, or another tenant's message", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 422, description = "Bad state text or colour", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn state(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StateRequest>,
) -> Result<(StatusCode, Json<ActionAnswer>), ApiError> {
    caller.require("send")?;
    check_state_text(&req.state).map_err(|e| ApiError::Invalid(e.under("state")))?;
    if !matches!(
        req.state_color,
        StateColor::Gray | StateColor::Yellow | StateColor::Green
    ) {
        return Err(ApiError::invalid(
            "state_color",
            "invalid",
            "a state update's colour is gray, yellow or green",
        ));
    }
    let update = StateUpdate {
        zh: req.state.zh.clone().unwrap_or_default(),
        en: req.state.en.clone().unwrap_or_default(),
        color: req.state_color,
    };
    let m = message_for_action(&state, &caller, &id).await?;
    let store = state.store();
    let now = store.now_ms();
    let mut deliveries = Vec::with_capacity(m.deliveries.len());
    for d in &m.deliveries {
        match plan_state_calls(&state, d, &update, now) {
            Ok(parts) => {
                store
                    .outbox()
                    .append_parts(&d.id, &parts, ACTION_TTL_MS)
                    .await?;
                deliveries.push(action(d, d.status, true, None));
            }
            Err(reason) => deliveries.push(action(d, d.status, false, Some(reason))),
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(ActionAnswer {
            id: m.id,
            deliveries,
        }),
    ))
}

/// The state-update calls of one delivery (planned by its channel's adapter), or why it cannot
/// take one: it is not sent, its channel is gone, it has no upstream id, or its channel or card
/// takes no state (only WeLink cards sent with a state do).
pub(crate) fn plan_state_calls(
    state: &AppState,
    d: &DeliveryView,
    update: &StateUpdate,
    now: i64,
) -> Result<Vec<NewPart>, String> {
    if d.status != DeliveryStatus::Sent {
        return Err(format!("the delivery is {}, not sent", d.status));
    }
    let handle = state
        .channel(&d.channel)
        .ok_or_else(|| "the channel is no longer configured".to_string())?;
    // Each sent call is updated with its own users (a card over 1000 users went out in several
    // calls, each with its own itemId).
    let sent: Vec<(&str, &[String])> = d
        .parts
        .iter()
        .filter(|p| p.op == "send")
        .filter_map(|p| Some((p.upstream_id.as_deref()?, p.recipients.as_slice())))
        .collect();
    if sent.is_empty() {
        return Err("no upstream id to update".into());
    }
    sent.iter()
        .map(|(up, users)| {
            let plan = handle.adapter.plan_state(up, users, &d.context, update)?;
            Ok(new_part(handle, &plan, 0, now))
        })
        .collect()
}

/// The answer of an admin retry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetryAnswer {
    /// `dlv_…`.
    pub id: String,
    /// `queued`.
    #[schema(value_type = String)]
    pub status: DeliveryStatus,
}

/// Sends a failed or expired delivery again (admin).
#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/retry",
    tag = "admin",
    params(("id" = String, Path, description = "dlv_…")),
    responses(
        (status = 202, description = "Queued again", body = RetryAnswer),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 409, description = "The delivery is neither failed nor expired", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<RetryAnswer>), ApiError> {
    caller.require("admin")?;
    let not_found = || ApiError::NotFound(format!("no delivery {id:?}"));
    if DeliveryId::parse(&id).is_none() {
        return Err(not_found());
    }
    let store = state.store();
    let (message_id, _tenant) = store
        .reads()
        .delivery_owner(&id)
        .await?
        .ok_or_else(not_found)?;
    if !store
        .outbox()
        .retry_delivery(&id, state.config().default_ttl_ms)
        .await?
    {
        return Err(ApiError::Conflict {
            code: "not_retryable",
            message: "only a failed or expired delivery can be retried".into(),
        });
    }
    // An admin retry also lifts a credential rejection (contract §5) of the delivery's channel.
    if let Some(m) = store.reads().get_message(None, &message_id).await? {
        if let Some(handle) = m
            .deliveries
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| state.channel(&d.channel))
        {
            store
                .tokens()
                .clear_rejection(&handle.adapter.credential())
                .await?;
        }
    }
    tracing::info!(access_key = %caller.access_key, delivery = %id, "admin retry");
    Ok((
        StatusCode::ACCEPTED,
        Json(RetryAnswer {
            id,
            status: DeliveryStatus::Queued,
        }),
    ))
}
