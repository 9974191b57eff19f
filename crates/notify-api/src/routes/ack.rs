//! `POST /v1/messages/{id}/ack`: acknowledges a message and its alert (contract §7). The
//! acknowledge link's page (`routes::ack_page`) acknowledges through the same [`acknowledge`].

use axum::extract::State;
use axum::Json;
use notify_channels::StateUpdate;
use notify_core::clock::ms_to_rfc3339;
use notify_core::StateColor;
use notify_store::escalation::{Acknowledgement, StateCalls};
use notify_store::MessageView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::actions::{message_for_action, plan_state_calls};
use crate::state::AppState;

/// How long the acknowledgement's card state updates may wait in the outbox.
const STATE_TTL_MS: i64 = 24 * 3600 * 1000;
/// Longest `by`.
pub const MAX_BY_CHARS: usize = 64;

/// `POST /v1/messages/{id}/ack` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Who acknowledges (a person id such as `zhangsan`, or a name): 1–64 characters.
    pub by: String,
}

/// The answer of an acknowledgement: who acknowledged first and when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AckAnswer {
    /// `msg_…`.
    pub id: String,
    /// Who acknowledged first.
    pub acknowledged_by: String,
    /// When, RFC 3339.
    pub acknowledged_at: String,
    /// True when the message had already been acknowledged: nothing changed.
    pub already_acknowledged: bool,
    /// The escalation steps this acknowledgement cancelled (delivery ids).
    pub cancelled_steps: Vec<String>,
    /// The WeLink deliveries whose card state is being set to `已处理` / `processed`.
    pub state_updates: Vec<String>,
}

/// The yellow `已处理` / `processed` state acknowledged cards take.
fn processed() -> StateUpdate {
    StateUpdate {
        zh: "已处理".into(),
        en: "processed".into(),
        color: StateColor::Yellow,
    }
}

/// Acknowledges `m` as `by` (`via`: `api` or `link`, for the metric): one store transaction
/// records who and when, cancels the pending escalation steps and queues the state updates of
/// the WeLink cards that were sent with a state. A second acknowledgement changes nothing.
pub async fn acknowledge(
    state: &AppState,
    m: &MessageView,
    by: &str,
    via: &'static str,
) -> Result<(Acknowledgement, Vec<String>), ApiError> {
    let store = state.store();
    let now = store.now_ms();
    let update = processed();
    // Cards that cannot take a state (stateless, other channels, not sent) are skipped: the
    // acknowledgement does not depend on them.
    let calls: Vec<StateCalls> = if m.acknowledged_at.is_some() {
        Vec::new()
    } else {
        m.deliveries
            .iter()
            .filter_map(|d| {
                let parts = plan_state_calls(state, d, &update, now).ok()?;
                Some(StateCalls {
                    delivery_id: d.id.clone(),
                    parts,
                })
            })
            .collect()
    };
    let ack = store
        .escalation()
        .acknowledge(&m.id, by, &calls, STATE_TTL_MS)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no message {:?}", m.id)))?;
    let updated = if ack.first {
        metrics::counter!("notify_acks_total", "via" => via).increment(1);
        if !ack.cancelled.is_empty() {
            metrics::counter!("notify_escalation_steps_total", "outcome" => "cancelled_acknowledged")
                .increment(ack.cancelled.len() as u64);
        }
        tracing::info!(message = %m.id, by, via, cancelled = ack.cancelled.len(), "acknowledged");
        calls.into_iter().map(|c| c.delivery_id).collect()
    } else {
        Vec::new()
    };
    Ok((ack, updated))
}

/// Checks `by`: trimmed, 1–64 characters.
pub fn check_by(by: &str) -> Result<&str, ApiError> {
    let by = by.trim();
    if by.is_empty() {
        return Err(ApiError::invalid("by", "required", "say who acknowledges"));
    }
    if by.chars().count() > MAX_BY_CHARS {
        return Err(ApiError::invalid(
            "by",
            "too_long",
            format!("at most {MAX_BY_CHARS} characters"),
        ));
    }
    Ok(by)
}

/// Acknowledges a message (and its alert): cancels its pending escalation steps and sets its
/// WeLink cards sent with a state to `已处理` / `processed`. Again: a 200 no-op with the first
/// acknowledgement's who and when.
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/ack",
    tag = "actions",
    params(("id" = String, Path, description = "msg_…")),
    request_body = AckRequest,
    responses(
        (status = 200, description = "Acknowledged (now or before: `already_acknowledged`)", body = AckAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the send scope, or another tenant's message", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 422, description = "`by` is missing or too long", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<AckRequest>,
) -> Result<Json<AckAnswer>, ApiError> {
    caller.require("send")?;
    let by = check_by(&req.by)?;
    let m = message_for_action(&state, &caller, &id).await?;
    let (ack, state_updates) = acknowledge(&state, &m, by, "api").await?;
    Ok(Json(AckAnswer {
        id: m.id,
        acknowledged_by: ack.by,
        acknowledged_at: ms_to_rfc3339(ack.at),
        already_acknowledged: !ack.first,
        cancelled_steps: ack.cancelled,
        state_updates,
    }))
}
