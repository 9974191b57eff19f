//! The console's one error type, answered as the API's JSON error shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a console request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, an expired or forged one, or a key that is no longer an admin's.
    #[error("{0}")]
    Unauthenticated(String),
    /// A change without the session's CSRF header.
    #[error("missing or wrong x-console-csrf header")]
    Csrf,
    /// A sign-in whose body is not what it must be.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A route the console does not pass on to the API.
    #[error("no console route {0}")]
    NotFound(String),
    /// The store did not answer.
    #[error("store unavailable")]
    Store(#[source] notify_store::StoreError),
}

impl ConsoleError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        }
    }
}

impl From<notify_store::StoreError> for ConsoleError {
    fn from(e: notify_store::StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Store(e) = &self {
            tracing::warn!(error = %e, "console: store read failed");
        }
        let body = serde_json::json!({ "error": { "code": code, "message": self.to_string() } });
        (status, Json(body)).into_response()
    }
}
