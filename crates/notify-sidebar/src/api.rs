//! `/sidebar/api/...`: what the page asks of the gateway. Every call needs a valid session
//! cookie and the CSRF header (see [`crate::session`]). An agent sees and reports only the
//! deliveries of its own channel, tenant (when the channel names one) and bot: a delivery
//! pinned to another bot, or of another channel or tenant, is answered 404.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use notify_channels::juzi::context::{bot_of, chat_key, payloads_of};
use notify_core::clock::ms_to_rfc3339;
use notify_core::DeliveryStatus;
use notify_store::sidebar::SidebarDelivery;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::jssdk::{jsapi_signature as sign, JsapiSignature, TicketKind};
use crate::session::{self, Session, CSRF_HEADER, SESSION_COOKIE};
use crate::{SidebarChannel, SidebarError, SidebarState};

/// Most deliveries listed for one chat.
const PAGE_LIMIT: i64 = 100;
/// Longest failure reason kept.
const REASON_MAX_CHARS: usize = 500;

/// The session of a sidebar API call, with its channel.
fn authorize(
    s: &SidebarState,
    headers: &HeaderMap,
) -> Result<(Session, SidebarChannel), SidebarError> {
    let cookie = session::read_cookie(headers, SESSION_COOKIE)
        .ok_or_else(|| SidebarError::Unauthorized("sign in first (/sidebar/login)".into()))?;
    let sess = session::open(
        cookie,
        &s.inner.config.session_secret,
        s.inner.store.now_ms(),
    )
    .ok_or_else(|| {
        SidebarError::Unauthorized("the session is invalid or expired: sign in again".into())
    })?;
    let csrf = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !session::same(csrf, &sess.csrf) {
        return Err(SidebarError::Forbidden(format!(
            "missing or wrong {CSRF_HEADER} header"
        )));
    }
    let channel = s.channel(Some(&sess.channel)).cloned().ok_or_else(|| {
        SidebarError::Unauthorized("the session's channel is no longer configured".into())
    })?;
    Ok((sess, channel))
}

/// Whether `d` is within the agent's scope: its channel, its tenant, and not pinned to
/// another bot.
fn in_scope(d: &SidebarDelivery, sess: &Session) -> bool {
    if d.channel != sess.channel {
        return false;
    }
    if sess.tenant.as_ref().is_some_and(|t| *t != d.tenant) {
        return false;
    }
    match bot_of(&d.context) {
        Some(bot) => bot == sess.bot_id,
        None => true,
    }
}

/// `GET /sidebar/api/session`: who is signed in, and the channel's sidebar settings.
pub(crate) async fn session(
    State(s): State<SidebarState>,
    headers: HeaderMap,
) -> Result<Json<Value>, SidebarError> {
    let (sess, channel) = authorize(&s, &headers)?;
    let native = channel.jssdk.as_ref().map(|app| {
        let wecom = app.config.as_wecom_app();
        json!({
            "corp_id": wecom.and_then(|c| c.corp_id.as_deref()),
            "agent_id": wecom.and_then(|c| c.agent_id),
        })
    });
    Ok(Json(json!({
        "channel": sess.channel,
        "bot_id": sess.bot_id,
        "corp_id": sess.corp_id,
        "user_id": sess.user_id,
        "name": sess.name,
        "auto_send": channel.auto_send,
        "native": native,
        "expires_at": ms_to_rfc3339(sess.expires_at),
    })))
}

/// `?chat_id=` (a group's `wxChatId`) or `?contact_id=` (an external contact's `wxUserId`).
#[derive(Debug, Deserialize)]
pub(crate) struct ChatQuery {
    chat_id: Option<String>,
    contact_id: Option<String>,
}

/// A waiting delivery as the page lists it.
#[derive(Debug, Serialize)]
struct Waiting {
    id: String,
    message_id: String,
    #[serde(rename = "type")]
    native_type: String,
    title: String,
    preview: String,
    /// The `SendParams` objects to pass to `sendChatMessage`, in order.
    payloads: Vec<Value>,
    created_at: String,
    expires_at: String,
}

/// `GET /sidebar/api/pending?chat_id=|contact_id=`: the chat's waiting deliveries, oldest first.
pub(crate) async fn pending(
    State(s): State<SidebarState>,
    headers: HeaderMap,
    Query(q): Query<ChatQuery>,
) -> Result<Json<Value>, SidebarError> {
    let (sess, channel) = authorize(&s, &headers)?;
    let chat = q
        .chat_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let contact = q
        .contact_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if chat.is_some() == contact.is_some() {
        return Err(SidebarError::BadRequest(
            "chat_required",
            "give chat_id (a group's wxChatId) or contact_id (a contact's wxUserId), one of them"
                .into(),
        ));
    }
    let keys: Vec<String> = [None, Some(sess.bot_id.as_str())]
        .into_iter()
        .filter_map(|bot| chat_key(chat, contact, bot))
        .collect();
    let rows = s
        .inner
        .store
        .sidebar()
        .waiting_for_chat(&channel.name, &keys, sess.tenant.as_deref(), PAGE_LIMIT)
        .await?;
    let deliveries: Vec<Waiting> = rows
        .into_iter()
        .filter(|d| in_scope(d, &sess))
        .map(|d| {
            let payloads = payloads_of(&d.context);
            Waiting {
                preview: crate::preview::of(&payloads),
                id: d.id,
                message_id: d.message_id,
                native_type: d.native_type,
                title: d.title,
                payloads,
                created_at: ms_to_rfc3339(d.created_at),
                expires_at: ms_to_rfc3339(d.expires_at),
            }
        })
        .collect();
    Ok(Json(json!({
        "chat": {"chat_id": chat, "contact_id": contact},
        "auto_send": channel.auto_send,
        "deliveries": deliveries,
    })))
}

/// The page's report of one send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultBody {
    ok: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /sidebar/api/deliveries/{id}/result` `{"ok": bool, "reason": "…"}`: `sent`, or
/// `failed` with the reason (`text content is empty`, `url is empty`…). Idempotent: the same
/// report again answers 200 with the same status; a report that contradicts the delivery's
/// status (another result, expired, recalled) is 409 with the status.
pub(crate) async fn result(
    State(s): State<SidebarState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, SidebarError> {
    let (sess, _channel) = authorize(&s, &headers)?;
    let body: ResultBody = serde_json::from_slice(&body).map_err(|e| {
        SidebarError::BadRequest(
            "invalid_body",
            format!("expected {{\"ok\": bool, \"reason\": string}}: {e}"),
        )
    })?;
    let store = &s.inner.store;
    let d = store
        .sidebar()
        .sidebar_delivery(&id)
        .await?
        .filter(|d| in_scope(d, &sess))
        .ok_or_else(|| SidebarError::NotFound("no such delivery for this agent".into()))?;
    let reason = if body.ok {
        None
    } else {
        let r = body
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("the sidebar reported a failure");
        Some(r.chars().take(REASON_MAX_CHARS).collect::<String>())
    };
    let status = store
        .sidebar()
        .record_agent_result(&d.id, body.ok, reason.as_deref())
        .await?;
    let expected = if body.ok {
        DeliveryStatus::Sent
    } else {
        DeliveryStatus::Failed
    };
    if status != expected {
        return Err(SidebarError::Conflict(status.to_string()));
    }
    if d.status == DeliveryStatus::AwaitingAgent {
        tracing::info!(delivery = %d.id, bot = %sess.bot_id, user = %sess.user_id, %status, reason = reason.as_deref().unwrap_or(""), "sidebar: agent reported a send");
    }
    Ok(Json(json!({"id": d.id, "status": status})))
}

/// `?url=` of the page to sign.
#[derive(Debug, Deserialize)]
pub(crate) struct UrlQuery {
    url: Option<String>,
}

/// `GET /sidebar/api/jsapi-signature?url=`: what `ww.register` needs in native WeCom, for a page
/// of this gateway: `{corpId, agentId, config: {timestamp, nonceStr, signature}, agentConfig:
/// {…}}` (corp ticket, then agent-config ticket).
pub(crate) async fn jsapi_signature(
    State(s): State<SidebarState>,
    headers: HeaderMap,
    Query(q): Query<UrlQuery>,
) -> Result<Json<Value>, SidebarError> {
    let (_sess, channel) = authorize(&s, &headers)?;
    let app = channel.jssdk.as_ref().ok_or_else(|| {
        SidebarError::NotFound(format!(
            "channels.{}.jssdk_channel is not set: no native WeCom signing",
            channel.name
        ))
    })?;
    let url = q.url.unwrap_or_default();
    let url = url.split('#').next().unwrap_or_default().to_string();
    let public = &s.inner.config.public_url;
    // Only pages of this gateway are signed: a signature is a grant to call JS APIs as the app.
    if !(url.starts_with(&format!("{public}/")) || url == *public) {
        return Err(SidebarError::BadRequest(
            "url_not_ours",
            format!("url must be a page under {public}/"),
        ));
    }
    let corp_ticket = s.inner.tickets.ticket(app, TicketKind::Corp).await?;
    let agent_ticket = s.inner.tickets.ticket(app, TicketKind::AgentConfig).await?;
    let timestamp = s.inner.store.now_ms() / 1000;
    let config: JsapiSignature = sign(&corp_ticket, &session::random_alnum(16), timestamp, &url);
    let agent: JsapiSignature = sign(&agent_ticket, &session::random_alnum(16), timestamp, &url);
    let wecom = app.config.as_wecom_app();
    Ok(Json(json!({
        "corpId": wecom.and_then(|c| c.corp_id.as_deref()),
        "agentId": wecom.and_then(|c| c.agent_id),
        "url": url,
        "config": config,
        "agentConfig": agent,
    })))
}
