//! `POST /v1/messages/batch`: up to 1,000 messages in one request, each checked and planned on
//! its own and all committed in one store transaction (set-based inserts), each with its own
//! result.

use axum::extract::{Request, State};
use axum::Json;
use notify_store::{InsertOutcome, NewMessage};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::read_limited;
use crate::ingress::group_commit::{commit_batch, CommitError};
use crate::ingress::{plan, resolve_state};
use crate::state::AppState;

/// Most messages in one batch.
pub const BATCH_MAX: usize = 1000;

/// Largest batch body: room for [`BATCH_MAX`] messages of ordinary size, but never more than
/// this, whatever `max_body_bytes` is (each message is still held to `max_body_bytes`).
const BATCH_BODY_CAP: usize = 32 * 1024 * 1024;

/// The body limit of a batch request under a single-message limit of `max_body_bytes`.
pub fn batch_body_limit(max_body_bytes: usize) -> usize {
    max_body_bytes
        .saturating_mul(BATCH_MAX)
        .clamp(max_body_bytes, BATCH_BODY_CAP.max(max_body_bytes))
}

/// The body of `POST /v1/messages/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 unified messages, each with its own `idempotency_key`.
    #[schema(value_type = Vec<notify_core::MessageInput>)]
    pub messages: Vec<Box<RawValue>>,
}

/// What became of one message of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Committed now; `message` is its 202 answer.
    Accepted,
    /// Its idempotency key was used before with the same body: `message` is the first answer.
    Replayed,
    /// Refused; `error` names the field (the 422 a single `POST /v1/messages` would get).
    Invalid,
    /// Its idempotency key is held by `existing_id` with another body (the single send's 409).
    Conflict,
    /// It could not be committed (store trouble); send it again.
    Error,
}

/// One message's result, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Its position in `messages`.
    pub index: usize,
    /// What became of it.
    pub status: BatchStatus,
    /// `msg_…` (accepted, replayed) or the id holding the key (conflict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its idempotency key, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The single send's answer (accepted, replayed), as stored: it is passed through, not
    /// parsed and written again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::views::AcceptedMessage>)]
    pub message: Option<Box<RawValue>>,
    /// Why not (invalid, conflict, error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The id of a stored first answer.
#[derive(Deserialize)]
struct FirstAnswer {
    id: String,
}

/// The answer of `POST /v1/messages/batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    /// Messages committed now.
    pub accepted: usize,
    /// Replays of earlier messages.
    pub replayed: usize,
    /// Refused messages.
    pub invalid: usize,
    /// Idempotency conflicts.
    pub conflict: usize,
    /// Messages not committed for store trouble.
    pub error: usize,
    /// One per message, in request order.
    pub results: Vec<BatchItem>,
}

impl BatchItem {
    fn new(index: usize, status: BatchStatus) -> Self {
        Self {
            index,
            status,
            id: None,
            idempotency_key: None,
            message: None,
            error: None,
        }
    }

    fn refused(index: usize, status: BatchStatus, e: &ApiError) -> Self {
        Self {
            error: Some(e.detail()),
            ..Self::new(index, status)
        }
    }
}

/// Accepts up to 1,000 messages at once.
#[utoipa::path(
    post,
    path = "/v1/messages/batch",
    tag = "messages",
    request_body(content = BatchRequest, description = "`{\"messages\": [message, …]}`, 1 to 1,000 unified messages; the body may be up to 1,000 × `max_body_bytes` (at most 32 MiB), each message at most `max_body_bytes`", content_type = "application/json"),
    responses(
        (status = 200, description = "Every message's result, in order: accepted, replayed, invalid (with the field), conflict, or error (not committed: send it again). Accepted messages are committed before the answer.", body = BatchAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the send scope", body = ErrorBody),
        (status = 409, description = "A replayed signature", body = ErrorBody),
        (status = 413, description = "Body over the batch limit", body = ErrorBody),
        (status = 422, description = "Not `{\"messages\": [...]}` with 1 to 1,000 items, or an Idempotency-Key header (each message carries its own key)", body = ErrorBody),
        (status = 429, description = "Over the caller's rate limit", body = ErrorBody),
        (status = 503, description = "Store unavailable: nothing was committed (Retry-After)", body = ErrorBody),
    )
)]
pub async fn create_batch(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<Json<BatchAnswer>, ApiError> {
    caller.require("send")?;
    let (parts, body) = req.into_parts();
    if parts.headers.contains_key("idempotency-key") {
        return Err(ApiError::invalid(
            "idempotency_key",
            "invalid",
            "a batch takes no Idempotency-Key header: give each message its own idempotency_key",
        ));
    }
    let max_one = state.config().max_body_bytes;
    let bytes = read_limited(&parts.headers, body, batch_body_limit(max_one)).await?;
    let batch: BatchRequest = crate::extract::parse_json(&bytes)?;
    if batch.messages.is_empty() || batch.messages.len() > BATCH_MAX {
        return Err(ApiError::invalid(
            "messages",
            "bad_length",
            format!(
                "a batch holds 1 to {BATCH_MAX} messages, not {}",
                batch.messages.len()
            ),
        ));
    }
    let now = state.store().now_ms();
    let mut results: Vec<Option<BatchItem>> = Vec::with_capacity(batch.messages.len());
    let mut indexes: Vec<usize> = Vec::new();
    let mut messages: Vec<NewMessage> = Vec::new();
    let mut directory = plan::RequestDirectory::default();
    for (i, raw) in batch.messages.iter().enumerate() {
        let text = raw.get();
        if text.len() > max_one {
            results.push(Some(BatchItem::refused(
                i,
                BatchStatus::Invalid,
                &ApiError::invalid(
                    "",
                    "payload_too_large",
                    format!("this message is larger than {max_one} bytes"),
                ),
            )));
            continue;
        }
        let input = match plan::parse(text.as_bytes(), None) {
            Ok(input) => input,
            Err(e) => {
                results.push(Some(BatchItem::refused(i, BatchStatus::Invalid, &e)));
                continue;
            }
        };
        // A store read: an outage fails the whole request (503), nothing being committed.
        let extras = plan::Extras {
            directory: directory.for_input(&state, &caller.tenant, &input).await?,
            ..plan::Extras::default()
        };
        match plan::build_input(&state, caller.owner(), input, extras, now) {
            Ok(mut a) => {
                // Reading the alert's cards is a store read: an outage fails the request (503).
                resolve_state::attach(&state, &mut a, now).await?;
                results.push(None);
                indexes.push(i);
                messages.push(a.message);
            }
            Err(e) => results.push(Some(BatchItem::refused(i, BatchStatus::Invalid, &e))),
        }
    }
    let outcomes = if messages.is_empty() {
        Vec::new()
    } else {
        commit_batch(state.store(), &messages).await
    };
    if !outcomes.is_empty()
        && outcomes
            .iter()
            .all(|o| matches!(o, Err(CommitError::Unavailable(_))))
    {
        // Nothing was committed: the whole request can be sent again.
        if let Some(Err(e)) = outcomes.first() {
            return Err(e.clone().into());
        }
    }
    metrics::histogram!("notify_batch_size").record(batch.messages.len() as f64);
    let mut accepted_n = 0u64;
    let mut replayed_n = 0u64;
    for ((i, m), outcome) in indexes.into_iter().zip(messages).zip(outcomes) {
        let mut item = BatchItem::new(i, BatchStatus::Accepted);
        item.idempotency_key = m.idempotency_key.clone();
        match outcome {
            Ok(InsertOutcome::Inserted) => {
                accepted_n += 1;
                item.id = Some(m.id);
                item.message = RawValue::from_string(m.response).ok();
            }
            Ok(InsertOutcome::Suppressed { response }) => {
                accepted_n += 1;
                item.id = Some(m.id);
                item.message = RawValue::from_string(response).ok();
            }
            Ok(InsertOutcome::Replayed { response }) => {
                replayed_n += 1;
                item.status = BatchStatus::Replayed;
                item.id = serde_json::from_str::<FirstAnswer>(&response)
                    .ok()
                    .map(|a| a.id);
                item.message = RawValue::from_string(response).ok();
            }
            Ok(InsertOutcome::Conflict { existing_id }) => {
                item.status = BatchStatus::Conflict;
                item.id = Some(existing_id.clone());
                item.error = Some(ApiError::IdempotencyConflict { existing_id }.detail());
            }
            Err(e) => {
                item.status = BatchStatus::Error;
                item.error = Some(ApiError::from(e).detail());
            }
        }
        results[i] = Some(item);
    }
    metrics::counter!("notify_messages_accepted_total").increment(accepted_n);
    metrics::counter!("notify_messages_replayed_total").increment(replayed_n);
    let results: Vec<BatchItem> = results.into_iter().flatten().collect();
    let count = |s: BatchStatus| results.iter().filter(|r| r.status == s).count();
    Ok(Json(BatchAnswer {
        accepted: count(BatchStatus::Accepted),
        replayed: count(BatchStatus::Replayed),
        invalid: count(BatchStatus::Invalid),
        conflict: count(BatchStatus::Conflict),
        error: count(BatchStatus::Error),
        results,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_body_limit_grows_with_the_message_limit_up_to_a_cap() {
        assert_eq!(batch_body_limit(16 * 1024), 16 * 1024 * 1000);
        assert_eq!(batch_body_limit(262_144), BATCH_BODY_CAP);
        assert_eq!(batch_body_limit(64 << 20), 64 << 20);
    }
}
