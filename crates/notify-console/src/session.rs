//! The console's session: who signed in (an admin caller's access key), a CSRF token and an
//! expiry, signed with HMAC-SHA256 under `server.session_secret` (the sidebar's signing, under
//! a domain of its own so neither cookie passes for the other). Nothing is stored server-side,
//! so every replica that shares the secret accepts it.
//!
//! Each request with a session checks again that its access key still belongs to a caller with
//! the `admin` scope, so removing the key or the scope ends the session at once.
//!
//! CSRF: every change (`POST`) carries the header [`CSRF_HEADER`]; with a session it must equal
//! the session's token, which the page reads from `GET /console/api/session` (a cross-site page
//! cannot read it: the gateway grants no CORS). A cross-site request cannot set a custom header
//! without a preflight the gateway never grants, and the cookie is `SameSite=Strict`.

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use notify_api::ClientConfig;
use notify_sidebar::session::{cookie, open_signed, random_alnum, read_cookie, same, seal_signed};
use serde::{Deserialize, Serialize};

use crate::{ConsoleError, ConsoleState};

/// The session cookie.
pub const SESSION_COOKIE: &str = "notify_console";
/// The header every change carries.
pub const CSRF_HEADER: &str = "x-console-csrf";
/// What sets console sessions apart from other values signed with the same secret.
const DOMAIN: &str = "notify-console-session.v1.";

/// A signed-in admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// The caller's access key.
    pub access_key: String,
    /// The CSRF token.
    pub csrf: String,
    /// End of the session (unix ms).
    pub expires_at: i64,
}

/// Sign-in body.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// `[[auth.clients]] access_key`.
    #[serde(default)]
    pub access_key: String,
    /// Its `secret_key` (or `previous_secret_key` during a rotation).
    #[serde(default)]
    pub secret_key: String,
}

/// What the page learns of its session.
#[derive(Debug, Serialize)]
pub struct SessionAnswer {
    /// The caller's access key.
    pub access_key: String,
    /// The caller's name.
    pub name: String,
    /// The token to send as `x-console-csrf`.
    pub csrf: String,
    /// End of the session (unix ms).
    pub expires_at: i64,
}

/// The admin caller with `access_key`, if one is configured.
pub(crate) fn admin<'a>(s: &'a ConsoleState, access_key: &str) -> Option<&'a ClientConfig> {
    s.inner.config.clients.iter().find(|c| {
        c.access_key == access_key
            && !c.secret_key.expose().is_empty()
            && c.scopes.iter().any(|s| s == "admin")
    })
}

/// The request's live session: signed, not expired, still an admin's, and for a change, with
/// the CSRF header equal to its token.
pub(crate) fn check(
    s: &ConsoleState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(ConsoleSession, ClientConfig), ConsoleError> {
    let session = read_cookie(headers, SESSION_COOKIE)
        .and_then(|v| open_signed::<ConsoleSession>(DOMAIN, v, &s.inner.config.session_secret))
        .filter(|sess| s.inner.store.now_ms() < sess.expires_at)
        .ok_or_else(|| ConsoleError::Unauthenticated("sign in first".into()))?;
    let client = admin(s, &session.access_key)
        .cloned()
        .ok_or_else(|| ConsoleError::Unauthenticated("this key is no longer an admin's".into()))?;
    if *method != Method::GET && *method != Method::HEAD {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(presented, &session.csrf) {
            tracing::warn!(access_key = %session.access_key, "console: change without its CSRF token refused");
            return Err(ConsoleError::Csrf);
        }
    }
    Ok((session, client))
}

fn answer(session: &ConsoleSession, client: &ClientConfig) -> SessionAnswer {
    SessionAnswer {
        access_key: session.access_key.clone(),
        name: client.name.clone(),
        csrf: session.csrf.clone(),
        expires_at: session.expires_at,
    }
}

/// `GET /console/api/session`: the signed-in admin and the CSRF token, or 401.
pub(crate) async fn current(
    State(s): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Json<SessionAnswer>, ConsoleError> {
    let (session, client) = check(&s, &Method::GET, &headers)?;
    Ok(Json(answer(&session, &client)))
}

/// True when `secret` is one of `client`'s secrets. Both are compared, in constant time, so
/// the time taken does not say which matched.
fn secret_matches(client: &ClientConfig, secret: &str) -> bool {
    let current = same(secret, client.secret_key.expose());
    let previous = client
        .previous_secret_key
        .as_ref()
        .map(|p| !p.expose().is_empty() && same(secret, p.expose()))
        .unwrap_or(false);
    current | previous
}

/// `POST /console/api/sign-in` with `{"access_key","secret_key"}` (JSON, and a non-empty
/// `x-console-csrf` header: no session exists yet, but a cross-site form cannot send either).
/// Only a caller with the `admin` scope signs in; every refusal is the same 401.
pub(crate) async fn sign_in(
    State(s): State<ConsoleState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ConsoleError> {
    let has_csrf = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty());
    if !has_csrf {
        return Err(ConsoleError::Csrf);
    }
    let input: SignIn = serde_json::from_slice(&body).map_err(|e| ConsoleError::Invalid {
        field: "body",
        message: format!("a JSON object with access_key and secret_key: {e}"),
    })?;
    // Every configured caller is looked at, so a refusal takes the same time for an unknown
    // key, a wrong secret and a caller without the admin scope.
    let mut found: Option<&ClientConfig> = None;
    for c in &s.inner.config.clients {
        let key = same(input.access_key.trim(), &c.access_key);
        let secret = secret_matches(c, &input.secret_key);
        if key & secret && found.is_none() {
            found = Some(c);
        }
    }
    let client = found
        .filter(|c| c.scopes.iter().any(|s| s == "admin"))
        .ok_or_else(|| {
            tracing::warn!(access_key = %input.access_key.trim(), "console: sign-in refused");
            ConsoleError::Unauthenticated("wrong access key or secret, or not an admin".into())
        })?;
    let ttl = s.inner.config.session_ttl;
    let session = ConsoleSession {
        access_key: client.access_key.clone(),
        csrf: random_alnum(32),
        expires_at: s.inner.store.now_ms() + ttl.as_millis() as i64,
    };
    tracing::info!(access_key = %session.access_key, "console: signed in");
    let set = cookie(
        SESSION_COOKIE,
        &seal_signed(DOMAIN, &session, &s.inner.config.session_secret),
        "/console",
        "Strict",
        ttl.as_secs(),
        s.inner.config.secure(),
    );
    Ok((
        StatusCode::OK,
        [(header::SET_COOKIE, set)],
        Json(answer(&session, client)),
    )
        .into_response())
}

/// `POST /console/api/sign-out` (with the CSRF header): deletes the cookie.
pub(crate) async fn sign_out(
    State(s): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    check(&s, &Method::POST, &headers)?;
    let clear = cookie(
        SESSION_COOKIE,
        "",
        "/console",
        "Strict",
        0,
        s.inner.config.secure(),
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}
