//! Agent sign-in with the Juzi OAuth (001 lines 105–137): `GET /sidebar/login` keeps a fresh
//! `state` server-side (and in a cookie of this browser), then sends the browser to
//! `{base_url}/oauth/connect/authorize`; Juzi sends it back to `/sidebar/oauth/callback` with a
//! single-use `code`, which is exchanged at `{base_url}/api/v1/oauth/getUserInfo?code=` for the
//! hosted account's `botId`, `corpId` and `userId`, and a session cookie is opened.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use notify_upstream::http::error_text;
use serde::Deserialize;

use crate::session::{self, Session, SESSION_COOKIE, STATE_COOKIE};
use crate::{SidebarChannel, SidebarState};

/// Length of a generated `state` (the document allows `[a-zA-Z0-9]` up to 128 bytes).
const STATE_LEN: usize = 32;

/// `?channel=` of the page and the login.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelQuery {
    pub(crate) channel: Option<String>,
}

/// `GET /sidebar/login[?channel=]`.
pub(crate) async fn login(
    State(s): State<SidebarState>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    let Some(channel) = s.channel(q.channel.as_deref()) else {
        return page(StatusCode::NOT_FOUND, "No such Juzi channel.", None);
    };
    let state = session::random_alnum(STATE_LEN);
    let ttl = s.inner.config.state_ttl;
    if let Err(e) = s
        .inner
        .store
        .sidebar()
        .put_oauth_state(&state, &channel.name, ttl.as_millis() as i64)
        .await
    {
        tracing::warn!(error = %e, "sidebar: cannot keep the OAuth state");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The gateway cannot start a sign-in right now; try again shortly.",
            None,
        );
    }
    let location = authorize_url(channel, &s.inner.config.public_url, &state);
    let cookie = session::set_cookie(STATE_COOKIE, &state, ttl.as_secs(), s.inner.config.secure());
    (
        StatusCode::FOUND,
        [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
    )
        .into_response()
}

/// `{base_url}/oauth/connect/authorize?redirect_uri=…&state=…` (001 line 107).
pub fn authorize_url(channel: &SidebarChannel, public_url: &str, state: &str) -> String {
    let redirect = format!("{public_url}/sidebar/oauth/callback");
    let mut url = format!("{}/oauth/connect/authorize", channel.base_url);
    url.push_str("?redirect_uri=");
    url.push_str(&url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>());
    url.push_str("&state=");
    url.push_str(state);
    url
}

/// `?code=&state=` of the callback.
#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

/// "a-zA-Z0-9的参数值,长度不可超过128个字节" (001 line 110).
fn state_ok(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `GET /sidebar/oauth/callback?code=&state=`.
pub(crate) async fn callback(
    State(s): State<SidebarState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let secure = s.inner.config.secure();
    let state = q.state.unwrap_or_default();
    if !state_ok(&state) {
        return page(
            StatusCode::BAD_REQUEST,
            "The sign-in came back without a valid state.",
            Some(""),
        );
    }
    // The state must be the one this browser was given: a sign-in started elsewhere (a link
    // an attacker made with their own code) is refused.
    let cookie_ok =
        session::read_cookie(&headers, STATE_COOKIE).is_some_and(|c| session::same(c, &state));
    let ttl_ms = s.inner.config.state_ttl.as_millis() as i64;
    // Taken before anything else is checked, so a state works once whatever happens next.
    let channel_name = match s
        .inner
        .store
        .sidebar()
        .take_oauth_state(&state, ttl_ms)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "sidebar: cannot check the OAuth state");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The gateway cannot finish the sign-in right now; try again shortly.",
                None,
            );
        }
    };
    let Some(channel_name) = channel_name.filter(|_| cookie_ok) else {
        return page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is unknown, expired or already used.",
            Some(""),
        );
    };
    let Some(channel) = s.channel(Some(&channel_name)).cloned() else {
        return page(
            StatusCode::NOT_FOUND,
            "That Juzi channel is no longer configured.",
            None,
        );
    };
    let code = q.code.unwrap_or_default();
    if code.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "Juzi sent no authorization code.",
            Some(&channel.name),
        );
    }
    let user = match exchange(&s, &channel, &code).await {
        Ok(u) => u,
        Err(Exchange::Refused(msg)) => {
            return page(StatusCode::BAD_REQUEST, &msg, Some(&channel.name))
        }
        Err(Exchange::Failed(msg)) => {
            return page(StatusCode::BAD_GATEWAY, &msg, Some(&channel.name))
        }
    };
    if let Some(corp) = &channel.corp_id {
        if &user.corp_id != corp {
            return page(
                StatusCode::FORBIDDEN,
                "This Juzi account belongs to another company than this gateway's channel.",
                None,
            );
        }
    }
    let now = s.inner.store.now_ms();
    let ttl = s.inner.config.session_ttl;
    let session = Session {
        channel: channel.name.clone(),
        bot_id: user.bot_id,
        corp_id: user.corp_id,
        user_id: user.user_id,
        name: user.name,
        tenant: channel.tenant.clone(),
        csrf: session::random_alnum(32),
        expires_at: now + ttl.as_millis() as i64,
    };
    tracing::info!(channel = %session.channel, bot = %session.bot_id, user = %session.user_id, "sidebar: agent signed in");
    let sealed = session::seal(&session, &s.inner.config.session_secret);
    let mut resp = (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/sidebar/?channel={}", enc(&channel.name)),
        )],
    )
        .into_response();
    let h = resp.headers_mut();
    for c in [
        session::set_cookie(SESSION_COOKIE, &sealed, ttl.as_secs(), secure),
        session::set_cookie(STATE_COOKIE, "", 0, secure),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The identity `getUserInfo` gives (001 lines 119–137).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JuziUser {
    user_id: String,
    corp_id: String,
    bot_id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UserInfoAnswer {
    errcode: i64,
    #[serde(default)]
    errmsg: Option<String>,
    #[serde(default)]
    data: Option<JuziUser>,
}

enum Exchange {
    /// The code was refused: the agent must sign in again.
    Refused(String),
    /// Juzi failed or answered nonsense.
    Failed(String),
}

/// `GET {base_url}/api/v1/oauth/getUserInfo?code=`: errcode 0 ok, -1 invalid code, -2 expired,
/// -4 not found, -5 unknown error (001 line 133).
async fn exchange(
    s: &SidebarState,
    channel: &SidebarChannel,
    code: &str,
) -> Result<JuziUser, Exchange> {
    let url = format!("{}/api/v1/oauth/getUserInfo", channel.base_url);
    let resp = s
        .inner
        .http
        .get(&url)
        .query(&[("code", code)])
        .send()
        .await
        .map_err(|e| Exchange::Failed(format!("Juzi could not be reached: {}", error_text(e))))?;
    let status = resp.status();
    let answer: UserInfoAnswer = resp.json().await.map_err(|e| {
        Exchange::Failed(format!(
            "Juzi answered HTTP {status} without the expected JSON: {}",
            error_text(e)
        ))
    })?;
    let detail = answer.errmsg.clone().unwrap_or_default();
    match answer.errcode {
        0 => answer
            .data
            .filter(|u| !u.bot_id.is_empty() && !u.corp_id.is_empty())
            .ok_or_else(|| {
                Exchange::Failed("Juzi answered without the account's botId and corpId".into())
            }),
        -1 => Err(Exchange::Refused(format!(
            "Juzi says the authorization code is invalid (-1 {detail}). Sign in again."
        ))),
        -2 => Err(Exchange::Refused(format!(
            "The authorization code has expired or was already used (-2 {detail}). Sign in again."
        ))),
        -4 => Err(Exchange::Refused(format!(
            "Juzi does not know this authorization code (-4 {detail}). Sign in again."
        ))),
        code => Err(Exchange::Failed(format!(
            "Juzi failed to sign the agent in ({code} {detail}). Try again later."
        ))),
    }
}

/// A small HTML answer for the browser routes, with a link to sign in again when `retry` is
/// given (the channel name, or "" for the default one).
pub(crate) fn page(status: StatusCode, message: &str, retry: Option<&str>) -> Response {
    let link = match retry {
        Some("") => r#"<p><a href="/sidebar/login">Sign in again</a></p>"#.to_string(),
        Some(c) => format!(
            r#"<p><a href="/sidebar/login?channel={}">Sign in again</a></p>"#,
            enc(c)
        ),
        None => String::new(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Sidebar sign-in</title><link rel=\"stylesheet\" href=\"/sidebar/sidebar.css\"></head>\
         <body><main class=\"notice\"><h1>Sign-in did not complete</h1><p id=\"error\">{}</p>{link}</main></body></html>",
        escape(message)
    );
    (status, Html(html)).into_response()
}

/// HTML text escaping.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_the_encoded_callback_and_state() {
        let c = SidebarChannel {
            name: "juzi".into(),
            base_url: "http://127.0.0.1:9".into(),
            auto_send: false,
            tenant: None,
            corp_id: None,
            jssdk: None,
        };
        assert_eq!(
            authorize_url(&c, "https://gw.example", "abc123"),
            "http://127.0.0.1:9/oauth/connect/authorize?redirect_uri=https%3A%2F%2Fgw.example%2Fsidebar%2Foauth%2Fcallback&state=abc123"
        );
        assert!(state_ok("abc123") && state_ok(&"a".repeat(128)));
        assert!(!state_ok("") && !state_ok(&"a".repeat(129)) && !state_ok("ab-c"));
    }
}
