//! The acknowledge link's page, `GET /ack/{token}` (contract §7): the alert (title, content,
//! status, who acknowledged) and an **Acknowledge** form. Only the form's POST acknowledges:
//! chat clients and link scanners open links by themselves, so a GET changes nothing.
//!
//! The token is the credential (no caller key): a bad one is a 404. The form carries a nonce
//! derived from the token with the server's secret, so another site cannot make a browser
//! post to the link (CSRF); the page has no script and no external asset, and its CSP allows
//! only its own inline stylesheet (by hash) and a form posted to itself.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use notify_core::MessageInput;
use notify_store::MessageView;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::escalation::token;
use crate::extract::ApiPath;
use crate::routes::ack::{acknowledge, check_by};
use crate::state::AppState;

const PAGE: &str = include_str!("../../assets/ack.html");
const CSS: &str = include_str!("../../assets/ack.css");
/// Who acknowledged when the form's name field was left empty.
const ANONYMOUS: &str = "link";

/// The acknowledge form's fields.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct AckForm {
    /// The name typed in (empty: `link`).
    #[serde(default)]
    pub by: String,
    /// The page's form nonce.
    #[serde(default)]
    pub nonce: String,
}

/// The message a token opens: 404 for a malformed or forged token, or a message gone.
async fn message_of(state: &AppState, token: &str) -> Result<MessageView, ApiError> {
    let not_found = || ApiError::NotFound("no such acknowledge link".into());
    let id = token::verify(&state.config().ack_secret, token).ok_or_else(not_found)?;
    tracing::Span::current().record("message", id.as_str());
    state
        .store()
        .reads()
        .get_message(None, &id)
        .await?
        .ok_or_else(not_found)
}

/// Shows the alert and the **Acknowledge** form (or who acknowledged it). Changes nothing.
#[utoipa::path(
    get,
    path = "/ack/{token}",
    tag = "acknowledge link",
    params(("token" = String, Path, description = "The link's token: msg_… and its signature")),
    responses(
        (status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "No such link", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    let m = message_of(&state, &token).await?;
    render(&state, &token, &m, None, StatusCode::OK).await
}

/// Acknowledges as the typed name (or `link`), then shows the page again (303 to the link).
#[utoipa::path(
    post,
    path = "/ack/{token}",
    tag = "acknowledge link",
    params(("token" = String, Path, description = "The link's token")),
    request_body(content = AckForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Acknowledged (or already): back to the page"),
        (status = 403, description = "The form's nonce is missing or wrong (the page, with why)", content_type = "text/html"),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 422, description = "The name is too long (the page, with why)", content_type = "text/html"),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    Form(form): Form<AckForm>,
) -> Result<Response, ApiError> {
    let m = message_of(&state, &token).await?;
    if !token::nonce_matches(&state.config().ack_secret, &token, &form.nonce) {
        let why = "这个表单已失效，请重新打开链接 / This form is not valid: open the link again";
        return render(&state, &token, &m, Some(why), StatusCode::FORBIDDEN).await;
    }
    let by = if form.by.trim().is_empty() {
        ANONYMOUS
    } else {
        match check_by(&form.by) {
            Ok(by) => by,
            Err(_) => {
                let why = "名字太长 / The name is too long";
                return render(
                    &state,
                    &token,
                    &m,
                    Some(why),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    };
    acknowledge(&state, &m, by, "link").await?;
    Ok(Redirect::to(&format!("/ack/{token}")).into_response())
}

async fn render(
    state: &AppState,
    token: &str,
    m: &MessageView,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let input = state
        .store()
        .reads()
        .message_body(&m.id)
        .await?
        .and_then(|b| MessageInput::from_json(b.as_bytes()).ok());
    let content = input
        .as_ref()
        .and_then(|i| i.content.as_ref())
        .map(|c| c.zh().to_string())
        .unwrap_or_default();
    let mut body = String::new();
    if let Some(e) = error {
        body.push_str(&format!(
            r#"<p class="error" role="alert">{}</p>"#,
            escape(e)
        ));
    }
    match (&m.acknowledged_by, &m.acknowledged_at) {
        (Some(by), Some(at)) => body.push_str(&format!(
            r#"<p class="done" id="acknowledged">已由 {by} 确认处理（{at}）<br>Acknowledged by {by} at {at}</p>"#,
            by = escape(by),
            at = escape(at),
        )),
        _ => body.push_str(&format!(
            r#"<form method="post" id="ack-form"><input type="hidden" name="nonce" value="{nonce}"><label for="by">你的名字 / Your name</label><input type="text" id="by" name="by" maxlength="64" autocomplete="name"><button type="submit" id="ack">确认处理 / Acknowledge</button></form>"#,
            nonce = token::form_nonce(&state.config().ack_secret, token),
        )),
    }
    let html = PAGE
        .replace("{{css}}", CSS)
        .replace("{{title}}", &escape(&m.title))
        .replace("{{content}}", &escape(&content))
        .replace("{{status}}", &escape(m.status.as_str()))
        .replace("{{created_at}}", &escape(&m.created_at))
        .replace("{{body}}", &body);
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        STANDARD.encode(Sha256::digest(CSS.as_bytes()))
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// HTML-escapes text for an element or a quoted attribute.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
