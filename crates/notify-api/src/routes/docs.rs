//! `GET /docs`: a human-readable view of `/openapi.json`. One embedded HTML page whose script
//! fetches the document and renders it; nothing is loaded from elsewhere (no CDN), so it works
//! on an isolated network.

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;

/// The page (`docs.html`, next to this file).
pub const DOCS_HTML: &str = include_str!("docs.html");

/// The API reference for people, rendered from `/openapi.json` in the browser.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "system",
    responses((status = 200, description = "An HTML page rendering /openapi.json", body = String, content_type = "text/html"))
)]
pub async fn docs() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // The page only talks to this gateway.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
                ),
            ),
        ],
        DOCS_HTML,
    )
}
