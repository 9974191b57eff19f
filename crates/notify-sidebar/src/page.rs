//! The page itself: one HTML file, one script and one stylesheet, compiled into the binary. The
//! HTML is served only to a signed-in agent (others are sent to sign in) and carries the
//! session's CSRF token in a `<meta>` tag.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::oauth::{escape, ChannelQuery};
use crate::session::{self, SESSION_COOKIE};
use crate::SidebarState;

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/sidebar.js");
const STYLE: &str = include_str!("../assets/sidebar.css");
const SANDBOX_BRIDGE: &str = include_str!("../assets/sandbox-bridge.js");

/// `GET /sidebar` → `/sidebar/`.
pub(crate) async fn to_index() -> Redirect {
    Redirect::permanent("/sidebar/")
}

/// `GET /sidebar/[?channel=]`: the page, or the sign-in when there is no session (or one for
/// another channel).
pub(crate) async fn index(
    State(s): State<SidebarState>,
    headers: HeaderMap,
    Query(q): Query<ChannelQuery>,
) -> Response {
    let wanted = q.channel.as_deref().filter(|c| !c.is_empty());
    let session = session::read_cookie(&headers, SESSION_COOKIE)
        .and_then(|c| session::open(c, &s.inner.config.session_secret, s.inner.store.now_ms()));
    let session = session.filter(|sess| {
        s.channel(Some(&sess.channel)).is_some() && wanted.is_none_or(|w| w == sess.channel)
    });
    let Some(session) = session else {
        let login = match wanted {
            Some(c) => format!(
                "/sidebar/login?channel={}",
                url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ),
            None => "/sidebar/login".to_string(),
        };
        return (StatusCode::SEE_OTHER, [(header::LOCATION, login)]).into_response();
    };
    let html = page_html(&session.csrf, s.inner.config.sandbox_parent.as_deref());
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// `GET /sidebar/sidebar.js`.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The page with the session's CSRF token and, in the sandbox, the bridge and its parent origin.
fn page_html(csrf: &str, sandbox_parent: Option<&str>) -> String {
    let bridge = match sandbox_parent {
        Some(origin) => format!(
            "<meta name=\"sandbox-parent\" content=\"{}\">\n<script src=\"/sidebar/sandbox-bridge.js\"></script>\n",
            escape(origin)
        ),
        None => String::new(),
    };
    INDEX
        .replace("{{CSRF}}", &escape(csrf))
        .replace("{{SANDBOX}}", &bridge)
}

/// `GET /sidebar/sandbox-bridge.js`: only in the sandbox (see `SidebarConfig::sandbox_parent`).
pub(crate) async fn sandbox_bridge(State(s): State<SidebarState>) -> Response {
    if s.inner.config.sandbox_parent.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SANDBOX_BRIDGE,
    )
        .into_response()
}

/// `GET /sidebar/sidebar.css`.
pub(crate) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
        .into_response()
}

/// Where the page's scripts come from (`assets/index.html`): its own `sidebar.js`, jweixin,
/// juzi-helper and the WeCom JS-SDK. Host sources without a scheme follow the page's scheme.
const SCRIPT_SOURCES: &str = "'self' res.wx.qq.com cdn.botorange.com wwcdn.weixin.qq.com";

/// The headers every sidebar answer carries: a Content-Security-Policy that lets only the
/// page's own and the three SDK scripts run and only the allowed ancestors frame it, and the
/// matching `X-Frame-Options` for browsers without CSP 2.
///
/// Framing: the native WeCom client shows the sidebar as a top-level web view, which
/// `frame-ancestors` does not restrict; Juzi shows it inside its own sidebar frame. So the
/// ancestors are the gateway itself and the origins of the Juzi channels' `base_url`s, unless
/// `server.sidebar_frame_ancestors` names them. `X-Frame-Options` can name no other origin, so
/// it is sent (`SAMEORIGIN`) only when the gateway alone may frame the page; browsers that
/// know CSP ignore it in favour of `frame-ancestors` anyway.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    policy: Arc<HeaderValue>,
    same_origin_only: bool,
}

impl SecurityHeaders {
    pub(crate) fn of(state: &SidebarState) -> Self {
        let config = &state.inner.config;
        let mut ancestors = vec!["'self'".to_string()];
        // The sandbox's chats page embeds the sidebar (`SidebarConfig::sandbox_parent`).
        ancestors.extend(config.sandbox_parent.iter().cloned());
        if config.frame_ancestors.is_empty() {
            for c in &state.inner.channels {
                if let Ok(u) = url::Url::parse(&c.base_url) {
                    let origin = u.origin().ascii_serialization();
                    if origin != "null" && !ancestors.contains(&origin) {
                        ancestors.push(origin);
                    }
                }
            }
        } else {
            // Header-unsafe characters could not come from a parsed TOML string list anyway;
            // anything that is not a plain source token is left out.
            ancestors.extend(
                config
                    .frame_ancestors
                    .iter()
                    .map(|a| a.trim().to_string())
                    .filter(|a| {
                        !a.is_empty()
                            && a.bytes()
                                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
                    }),
            );
        }
        let policy = format!(
            "default-src 'self'; script-src {SCRIPT_SOURCES}; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; \
             connect-src 'self' https://*.qq.com https://*.botorange.com; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors {}",
            ancestors.join(" ")
        );
        Self {
            policy: Arc::new(
                HeaderValue::from_str(&policy)
                    .unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'self'")),
            ),
            same_origin_only: ancestors.len() == 1,
        }
    }
}

/// Adds [`SecurityHeaders`] to every sidebar answer.
pub(crate) async fn security_headers(
    State(h): State<SecurityHeaders>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, (*h.policy).clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if h.same_origin_only {
        headers.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::page_html;

    #[test]
    fn the_sandbox_bridge_is_in_the_page_only_in_the_sandbox() {
        let plain = page_html("tok", None);
        assert!(!plain.contains("sandbox"), "{plain}");
        assert!(plain.contains("<meta name=\"sidebar-csrf\" content=\"tok\">"));
        let sandbox = page_html("tok", Some("http://127.0.0.1:4000\"><x"));
        assert!(sandbox.contains(
            "<meta name=\"sandbox-parent\" content=\"http://127.0.0.1:4000&quot;&gt;&lt;x\">"
        ));
        // The bridge runs before the page's script, so the page finds its wx.
        let bridge = sandbox.find("/sidebar/sandbox-bridge.js").unwrap();
        assert!(bridge < sandbox.find("/sidebar/sidebar.js").unwrap());
    }
}
