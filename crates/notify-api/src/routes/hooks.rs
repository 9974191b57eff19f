//! `POST /v1/hooks/{name}` (an alert source's webhook, authenticated by the hook's own token)
//! and `POST /v1/hooks/{name}/preview` (admin: what a payload would become, nothing stored).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use notify_store::InsertOutcome;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{discard, read_body, ApiPath, RawBody};
use crate::hooks::preview::{self, HookPreview};
use crate::hooks::{auth, welink_cards, Hook};
use crate::ingress::group_commit::commit_batch;
use crate::ingress::plan::{self, Accepted};
use crate::ingress::resolve_state;
use crate::state::AppState;

/// The answer to an alert source.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HookAnswer {
    /// One per message the notification became (none when it was dropped, e.g. a resolved
    /// notification of a hook with `send_resolved = false`).
    pub messages: Vec<HookMessage>,
}

/// One message of a hook's answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HookMessage {
    /// `msg_…`: the new message, or the earlier one a replay is.
    pub id: String,
    /// `accepted` (new), `suppressed` (stored and counted inside its alert's dedup window, not
    /// sent: a digest follows), or `replayed` (the source sent this notification before:
    /// nothing new was stored or sent).
    pub status: String,
}

/// An alert source's notification: 200 once every message it becomes is committed.
#[utoipa::path(
    post,
    path = "/v1/hooks/{name}",
    tag = "hooks",
    params(("name" = String, Path, description = "The hook's name (`[hooks.NAME]`)")),
    request_body(content = Object, description = "The source's payload: Alertmanager webhook (version 4), Grafana webhook contact point, or any JSON object (`format = \"generic\"`)", content_type = "application/json"),
    security(("hook_token" = [])),
    responses(
        (status = 200, description = "Committed (or a replay of a notification seen before)", body = HookAnswer),
        (status = 400, description = "Malformed JSON; nothing stored", body = ErrorBody),
        (status = 401, description = "No token or a wrong one", body = ErrorBody),
        (status = 404, description = "No such hook", body = ErrorBody),
        (status = 413, description = "Body over max_body_bytes", body = ErrorBody),
        (status = 422, description = "Not a notification of the hook's format, naming the field; nothing stored", body = ErrorBody),
        (status = 503, description = "Store unavailable: the source should retry (Alertmanager retries on 5xx)", body = ErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    req: Request,
) -> Response {
    let (status, label, resp) = match receive_inner(&state, &name, req).await {
        Ok(answer) => (StatusCode::OK, name.clone(), Json(answer).into_response()),
        Err((e, known)) => {
            let resp = e.into_response();
            // An unknown name is not a label: anyone can make up names.
            let label = if known { name.clone() } else { "-".into() };
            (resp.status(), label, resp)
        }
    };
    metrics::counter!("notify_hook_requests_total", "hook" => label, "status" => status.as_u16().to_string())
        .increment(1);
    resp
}

/// The work of [`receive`]; an error says whether the hook exists.
async fn receive_inner(
    state: &AppState,
    name: &str,
    req: Request,
) -> Result<HookAnswer, (ApiError, bool)> {
    let (parts, body) = req.into_parts();
    let Some(hook) = state.hooks().get(name) else {
        discard(&parts.headers, body);
        return Err((ApiError::NotFound(format!("no hook {name:?}")), false));
    };
    if !auth::allowed(&parts.headers, hook.config.token.expose()) {
        discard(&parts.headers, body);
        tracing::warn!(hook = %name, "refused: hook token missing or wrong");
        return Err((
            ApiError::Unauthenticated(
                "this hook takes its token as Authorization: Bearer, or as the basic-auth password"
                    .into(),
            ),
            true,
        ));
    }
    let known = |e: ApiError| (e, true);
    let (bytes, _permit) = read_bytes(state, &parts.headers, body)
        .await
        .map_err(known)?;
    let accepted = build(state, hook, &bytes).await.map_err(known)?;
    commit(state, accepted).await.map_err(known)
}

async fn read_bytes(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<(bytes::Bytes, crate::body_budget::BodyPermit), ApiError> {
    read_body(
        headers,
        body,
        state.config().max_body_bytes,
        state.body_budget(),
    )
    .await
}

/// Every message of a payload, built (checked and planned) as ingress stores it but not
/// stored: the one path of the hook's ingress, which commits them, and of its preview, which
/// shows them.
async fn build(state: &AppState, hook: &Hook, body: &[u8]) -> Result<Vec<Accepted>, ApiError> {
    let drafts = hook.drafts(body)?;
    let owner = hook.owner();
    let now = state.store().now_ms();
    let mut accepted = Vec::with_capacity(drafts.len());
    let mut directory = plan::RequestDirectory::default();
    for mut d in drafts {
        welink_cards(&mut d.input, |name| {
            state
                .channel(name)
                .and_then(|c| c.adapter.alert_card_type())
        });
        // A hook's targets may name directory people and groups.
        d.extras.directory = directory.for_input(state, owner.tenant, &d.input).await?;
        let mut a = plan::build_input(state, owner, d.input, d.extras, now)?;
        // A resolve turns the alert's WeLink cards green instead of sending new ones.
        resolve_state::attach(state, &mut a, now).await?;
        accepted.push(a);
    }
    Ok(accepted)
}

/// Commits the messages: one through the group committer like `POST /v1/messages`, several
/// (a split notification) in one transaction, so that the source's retry after a 503 finds
/// all or none of them.
async fn commit(state: &AppState, accepted: Vec<Accepted>) -> Result<HookAnswer, ApiError> {
    let mut answers = Vec::with_capacity(accepted.len());
    let (ids, messages): (Vec<String>, Vec<_>) = accepted
        .into_iter()
        .map(|a| (a.message.id.clone(), a.message))
        .unzip();
    let outcomes = match messages.len() {
        0 => Vec::new(),
        1 => {
            let m = messages
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::Internal("no message".into()))?;
            vec![state.committer().commit(m).await?]
        }
        _ => commit_batch(state.store(), &messages)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?,
    };
    for (id, outcome) in ids.into_iter().zip(outcomes) {
        let (id, status) = match outcome {
            InsertOutcome::Inserted => {
                metrics::counter!("notify_messages_accepted_total").increment(1);
                (id, "accepted")
            }
            InsertOutcome::Suppressed { .. } => {
                metrics::counter!("notify_messages_accepted_total").increment(1);
                (id, "suppressed")
            }
            InsertOutcome::Replayed { response } => {
                metrics::counter!("notify_messages_replayed_total").increment(1);
                let first = serde_json::from_str::<FirstAnswer>(&response).map(|a| a.id);
                (first.unwrap_or(id), "replayed")
            }
            InsertOutcome::Conflict { existing_id } => (existing_id, "replayed"),
        };
        answers.push(HookMessage {
            id,
            status: status.into(),
        });
    }
    Ok(HookAnswer { messages: answers })
}

/// The id in a stored answer.
#[derive(Deserialize)]
struct FirstAnswer {
    id: String,
}

/// What a payload would become, per message and target, without storing or sending it.
#[utoipa::path(
    post,
    path = "/v1/hooks/{name}/preview",
    tag = "hooks",
    params(("name" = String, Path, description = "The hook's name (`[hooks.NAME]`)")),
    request_body(content = Object, description = "A payload, as the source would send it", content_type = "application/json"),
    responses(
        (status = 200, description = "The unified message(s) and each target's upstream bodies", body = HookPreview),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 404, description = "No such hook", body = ErrorBody),
        (status = 422, description = "Not a notification of the hook's format, naming the field", body = ErrorBody),
        (status = 503, description = "Store unavailable (the directory, or a resolve's sent cards, are read)", body = ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    RawBody(body): RawBody,
) -> Result<Json<HookPreview>, ApiError> {
    caller.require("admin")?;
    let hook = state
        .hooks()
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no hook {name:?}")))?;
    let messages = build(&state, hook, &body)
        .await?
        .iter()
        .map(preview::of)
        .collect::<Result<_, _>>()?;
    Ok(Json(HookPreview { messages }))
}
