//! The page itself: one HTML file, one script and one stylesheet, compiled into the binary. The
//! HTML is served only to a signed-in agent (others are sent to sign in) and carries the
//! session's CSRF token in a `<meta>` tag.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
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
