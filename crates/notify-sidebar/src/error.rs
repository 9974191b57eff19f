//! Errors of the sidebar API, answered as the main API's `{"error": {"code", "message"}}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use notify_store::StoreError;
use serde_json::json;

/// Why a sidebar call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidebarError {
    /// No valid session (401): sign in again.
    #[error("{0}")]
    Unauthorized(String),
    /// A session, but not allowed (403): CSRF token missing or wrong, another corp.
    #[error("{0}")]
    Forbidden(String),
    /// Not found, or out of the agent's scope (404, so that ids do not leak).
    #[error("{0}")]
    NotFound(String),
    /// A bad request (400), with a snake_case code.
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// The report contradicts the delivery's state (409): the status it is in.
    #[error("the delivery is {0}")]
    Conflict(String),
    /// An upstream (Juzi, WeCom) refused or failed (502).
    #[error("{0}")]
    Upstream(String),
    /// The store or an upstream is unavailable for now (503).
    #[error("{0}")]
    Unavailable(String),
}

impl SidebarError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
            Self::Conflict(_) => (StatusCode::CONFLICT, "not_awaiting_agent"),
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_error"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl From<StoreError> for SidebarError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "sidebar: store error");
        SidebarError::Unavailable("the store is unavailable".into())
    }
}

impl IntoResponse for SidebarError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        if let Self::Conflict(s) = &self {
            body["status"] = json!(s);
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        resp
    }
}
