//! `POST /v1/messages`, `GET /v1/messages/{id}`, `GET /v1/messages`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use notify_core::{MessageId, MessageStatus};
use notify_store::{InsertOutcome, MessageFilter, MessageView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, RawBody};
use crate::ingress::{plan, resolve_state};
use crate::state::AppState;
use crate::views::AcceptedMessage;

/// Accepts one message: 202 once it is committed.
#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "messages",
    request_body(content = notify_core::MessageInput, description = "The unified message. Its targets' fields depend on their channel's kind: see `TargetInput` and `WelinkTarget` … `LogTarget`; docs/api.md has an example per kind and type.", content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Sets (or must equal) the body's idempotency_key")),
    responses(
        (status = 202, description = "Accepted and committed", body = AcceptedMessage),
        (status = 200, description = "A replay of an idempotent request: the first answer, with `Idempotent-Replayed: true`", body = AcceptedMessage),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the send scope", body = ErrorBody),
        (status = 409, description = "Idempotency key used with another body, or a replayed signature", body = ErrorBody),
        (status = 413, description = "Body over max_body_bytes", body = ErrorBody),
        (status = 422, description = "Invalid message, naming the field", body = ErrorBody),
        (status = 429, description = "Over the caller's rate limit", body = ErrorBody),
        (status = 503, description = "Store unavailable (Retry-After)", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require("send")?;
    let header_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::invalid(
                    "idempotency_key",
                    "invalid",
                    "the Idempotency-Key header is not visible ASCII",
                )
            })
        })
        .transpose()?;
    let now = state.store().now_ms();
    let mut accepted = plan::build(&state, &caller, &body, header_key, now).await?;
    resolve_state::attach(&state, &mut accepted, now).await?;
    tracing::Span::current().record("message", accepted.message.id.as_str());
    let deliveries: Vec<&str> = accepted
        .message
        .deliveries
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    tracing::debug!(message = %accepted.message.id, ?deliveries, caller = %caller.name, "accepted; committing");
    let outcome = state.committer().commit(accepted.message).await?;
    if let Some(pause) = state.config().pause_after_commit {
        tokio::time::sleep(pause).await;
    }
    match outcome {
        InsertOutcome::Inserted => {
            metrics::counter!("notify_messages_accepted_total").increment(1);
            Ok((StatusCode::ACCEPTED, Json(accepted.answer)).into_response())
        }
        InsertOutcome::Suppressed { response } => {
            metrics::counter!("notify_messages_accepted_total").increment(1);
            Ok(stored_answer(StatusCode::ACCEPTED, response))
        }
        InsertOutcome::Replayed { response } => {
            metrics::counter!("notify_messages_replayed_total").increment(1);
            let mut resp = stored_answer(StatusCode::OK, response);
            resp.headers_mut().insert(
                header::HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            );
            Ok(resp)
        }
        InsertOutcome::Conflict { existing_id } => {
            Err(ApiError::IdempotencyConflict { existing_id })
        }
    }
}

/// An answer the store holds (a suppressed message's, or the first answer of a replay), passed
/// through as the JSON it is.
fn stored_answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// One message with its deliveries, parts, attempts and failed recipients.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    tag = "messages",
    params(("id" = String, Path, description = "msg_…")),
    responses(
        (status = 200, description = "The message", body = MessageView),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the read scope", body = ErrorBody),
        (status = 404, description = "No such message for this caller", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MessageView>, ApiError> {
    caller.require("read")?;
    let not_found = || ApiError::NotFound(format!("no message {id:?}"));
    if MessageId::parse(&id).is_none() {
        return Err(not_found());
    }
    tracing::Span::current().record("message", id.as_str());
    state
        .store()
        .reads()
        .get_message(caller.tenant_filter(), &id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

/// Query of `GET /v1/messages`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Message status (`accepted`, `sent`, `partially_sent`, `failed`, `expired`, `recalled`,
    /// `suppressed`).
    pub status: Option<String>,
    /// Has a delivery on this channel.
    pub channel: Option<String>,
    /// Created at or after (RFC 3339 or unix ms).
    pub since: Option<String>,
    /// Created before (RFC 3339 or unix ms).
    pub until: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Title contains (case-insensitive).
    pub q: Option<String>,
    /// Only this tenant's messages. For admins, who otherwise see every tenant; any other
    /// caller sees its own tenant only, and naming another one is 403.
    pub tenant: Option<String>,
}

/// A page of messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Newest first, without deliveries.
    pub messages: Vec<MessageView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Messages, newest first, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/messages",
    tag = "messages",
    params(ListParams),
    responses(
        (status = 200, description = "A page", body = MessagePage),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the read scope", body = ErrorBody),
        (status = 422, description = "A bad parameter, named in `field`", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<MessagePage>, ApiError> {
    caller.require("read")?;
    let limit = super::page_size(p.limit.as_deref())?;
    if let Some(s) = &p.status {
        if MessageStatus::parse(s).is_none() {
            return Err(ApiError::invalid(
                "status",
                "invalid",
                format!("unknown message status {s:?}"),
            ));
        }
    }
    for (name, v) in [("channel", &p.channel), ("q", &p.q), ("tenant", &p.tenant)] {
        if v.as_deref()
            .is_some_and(|s| s.chars().any(char::is_control) || s.len() > 200)
        {
            return Err(ApiError::invalid(
                name,
                "invalid",
                format!("{name} holds control characters or is too long"),
            ));
        }
    }
    if let Some(c) = &p.cursor {
        if MessageId::parse(c).is_none() {
            return Err(ApiError::invalid(
                "cursor",
                "invalid",
                "not a cursor from a previous page",
            ));
        }
    }
    let since = p
        .since
        .as_deref()
        .map(|s| parse_instant(s, "since"))
        .transpose()?;
    let until = p
        .until
        .as_deref()
        .map(|s| parse_instant(s, "until"))
        .transpose()?;
    let tenant = caller.tenant_to_read(p.tenant.as_deref(), "messages")?;
    let filter = MessageFilter {
        tenant,
        status: p.status.clone(),
        channel: p.channel.clone().filter(|c| !c.is_empty()),
        since,
        until,
        text: p.q.clone().filter(|q| !q.is_empty()),
        before_id: p.cursor.clone(),
        limit: limit + 1,
    };
    let mut messages = state.store().reads().list_messages(&filter).await?;
    let next_cursor = if messages.len() as i64 > limit {
        messages.truncate(limit as usize);
        messages.last().map(|m| m.id.clone())
    } else {
        None
    };
    Ok(Json(MessagePage {
        messages,
        next_cursor,
    }))
}

/// An instant given as RFC 3339 or unix milliseconds.
pub(crate) fn parse_instant(s: &str, field: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::invalid(
                field,
                "invalid_time",
                format!("{field} takes RFC 3339 or unix milliseconds"),
            )
        })
}
