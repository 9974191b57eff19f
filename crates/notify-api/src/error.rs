//! The one error type of the API and its table of statuses and codes. Every refusal leaves as
//! `{"error": {"code", "message", "field"}}`; a store outage is 503 with `Retry-After`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use notify_core::FieldError;
use notify_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (400).
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The request cannot be read (400).
    #[error("{0}")]
    BadRequest(String),
    /// Valid JSON, invalid content: names the field (422).
    #[error(transparent)]
    Invalid(FieldError),
    /// A missing or bad credential (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller lacks the scope (403).
    #[error("this call needs the {0:?} scope")]
    MissingScope(String),
    /// Another tenant's message (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or not the caller's to read (404).
    #[error("{0}")]
    NotFound(String),
    /// No route (404).
    #[error("no route for {0}")]
    NoRoute(String),
    /// The route exists but not with this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The idempotency key is held by a message with another body (409).
    #[error("idempotency key already used by {existing_id} with another body")]
    IdempotencyConflict {
        /// The message holding the key.
        existing_id: String,
    },
    /// A signed request seen before (409).
    #[error("this signed request was already received")]
    ReplayedRequest,
    /// The action does not apply to the thing in its state (409).
    #[error("{message}")]
    Conflict {
        /// snake_case reason.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// The body is over `max_body_bytes` (413).
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Over the caller's `max_per_second` (429).
    #[error("over this caller's rate limit")]
    RateLimited {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// The store cannot be reached (503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Request bodies in flight already hold `server.max_inflight_body_bytes` (503 with
    /// `Retry-After`): nothing was read or committed, the same request may be sent again.
    #[error("too many request bodies in flight; retry shortly")]
    Busy,
    /// The request took longer than `server.request_timeout` (408). A message may have been
    /// committed all the same: retry with the same idempotency key.
    #[error("the request did not complete within {ms} ms")]
    RequestTimeout {
        /// The timeout, in milliseconds.
        ms: u64,
    },
    /// A fault of the gateway itself (500); never caused by what a caller sends.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store failed: 503 when a retry may pass (unreachable, migrations missing), else
    /// 500. The store's error stays the source, so the log reaches the driver's error.
    #[error("{0}")]
    Store(#[source] StoreError),
}

/// The code of every answer that is not a 422, with its status and meaning: the list
/// `/openapi.json` gives (422 codes: `notify_core::error::FIELD_CODES`).
pub const ERROR_CODES: &[(u16, &str, &str)] = &[
    (400, "malformed_json", "the body is not JSON"),
    (400, "bad_request", "the request cannot be read"),
    (
        401,
        "unauthenticated",
        "a missing or bad credential or signature",
    ),
    (
        403,
        "missing_scope",
        "the caller lacks the scope the call needs",
    ),
    (403, "forbidden", "another tenant's message or data"),
    (404, "not_found", "no such message for this caller"),
    (404, "no_route", "no such path"),
    (
        405,
        "method_not_allowed",
        "the path exists, not with this method",
    ),
    (
        409,
        "idempotency_conflict",
        "the idempotency key is held by a message with another body",
    ),
    (
        409,
        "replayed_request",
        "this signed request was received before",
    ),
    (
        409,
        "not_retryable",
        "an admin retry of a delivery that is not failed or expired",
    ),
    (
        409,
        "person_in_group",
        "deleting a directory person a group still names",
    ),
    (
        413,
        "payload_too_large",
        "the body is over `max_body_bytes`",
    ),
    (
        429,
        "rate_limited",
        "over the caller's `max_per_second` (Retry-After)",
    ),
    (
        500,
        "internal",
        "a fault of the gateway; its log has the detail",
    ),
    (
        408,
        "request_timeout",
        "the request was not answered within `server.request_timeout`",
    ),
    (
        503,
        "unavailable",
        "the store cannot be reached (Retry-After)",
    ),
    (
        503,
        "busy",
        "the bodies in flight fill `server.max_inflight_body_bytes` (Retry-After)",
    ),
];

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case machine code.
    pub code: String,
    /// For people.
    pub message: String,
    /// JSON path of the field at fault (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// The status and code of each variant: the one table.
    pub fn status_and_code(&self) -> (StatusCode, &str) {
        use ApiError as E;
        match self {
            E::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            E::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            E::Invalid(f) => (StatusCode::UNPROCESSABLE_ENTITY, f.code.as_str()),
            E::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            E::MissingScope(_) => (StatusCode::FORBIDDEN, "missing_scope"),
            E::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::NoRoute(_) => (StatusCode::NOT_FOUND, "no_route"),
            E::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            E::IdempotencyConflict { .. } => (StatusCode::CONFLICT, "idempotency_conflict"),
            E::ReplayedRequest => (StatusCode::CONFLICT, "replayed_request"),
            E::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            E::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            E::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            E::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            E::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            E::RequestTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            E::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            E::Store(e) if store_retryable(e) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            E::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// A 422 on `field`.
    pub fn invalid(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldError::new(field, code, message))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

/// A store error a retry may clear: the database is back, or a newer replica migrates it.
fn store_retryable(e: &StoreError) -> bool {
    e.is_unavailable() || matches!(e, StoreError::Migration { .. })
}

/// An error and its sources, `: `-joined, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => ApiError::invalid("", "invalid", e.body_text()),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit: 0 }
                } else {
                    ApiError::BadRequest(e.body_text())
                }
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::invalid("query", "invalid", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::NotFound(r.body_text())
    }
}

impl ApiError {
    /// The `error` object of this error's answer (also one item of a batch's results).
    pub fn detail(&self) -> ErrorDetail {
        let (status, code) = self.status_and_code();
        debug_assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY
                || ERROR_CODES
                    .iter()
                    .any(|(s, c, _)| *s == status.as_u16() && *c == code),
            "error code {status} {code:?} is not in ERROR_CODES, the list /openapi.json documents: add it there"
        );
        let code = code.to_string();
        let field = match self {
            ApiError::Invalid(f) => Some(f.field.clone()),
            _ => None,
        };
        let message = match self {
            ApiError::Invalid(f) => f.message.clone(),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                "internal error; see the gateway's log".to_string()
            }
            ApiError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable");
                "the store is unavailable; retry later".to_string()
            }
            ApiError::Store(e) if store_retryable(e) => {
                tracing::warn!(error = %chain(e), "store unavailable");
                "the store is unavailable; retry later".to_string()
            }
            ApiError::Store(e) => {
                tracing::error!(error = %chain(e), "internal error");
                "internal error; see the gateway's log".to_string()
            }
            other => other.to_string(),
        };
        ErrorDetail {
            code,
            message,
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_and_code().0;
        let body = ErrorBody {
            error: self.detail(),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            ApiError::Unavailable(_) | ApiError::Busy => Some(1),
            ApiError::Store(e) if store_retryable(e) => Some(1),
            ApiError::RateLimited { retry_after_s } => Some((*retry_after_s).max(1)),
            _ => None,
        };
        if let Some(s) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_in_the_documented_table() {
        let all = [
            ApiError::MalformedJson(String::new()),
            ApiError::BadRequest(String::new()),
            ApiError::Unauthenticated(String::new()),
            ApiError::MissingScope(String::new()),
            ApiError::Forbidden(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::NoRoute(String::new()),
            ApiError::MethodNotAllowed,
            ApiError::IdempotencyConflict {
                existing_id: String::new(),
            },
            ApiError::ReplayedRequest,
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::RateLimited { retry_after_s: 1 },
            ApiError::Unavailable(String::new()),
            ApiError::Internal(String::new()),
            ApiError::Store(StoreError::Config(String::new())),
            ApiError::Store(StoreError::Unavailable {
                reason: String::new(),
                source: None,
            }),
        ];
        for e in all {
            let (status, code) = e.status_and_code();
            assert!(
                ERROR_CODES
                    .iter()
                    .any(|(s, c, _)| *s == status.as_u16() && *c == code),
                "{status} {code}"
            );
        }
    }

    #[test]
    fn a_store_error_answers_as_before_and_is_the_source() {
        use std::error::Error as _;
        let down = ApiError::from(StoreError::Unavailable {
            reason: "pool timed out".into(),
            source: None,
        });
        assert_eq!(down.status_and_code().1, "unavailable");
        assert!(down.source().is_some_and(|s| s.is::<StoreError>()));
        let resp = down.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        let broken = ApiError::from(StoreError::Corrupt("row".into()));
        assert_eq!(broken.status_and_code().1, "internal");
        assert_eq!(
            broken.detail().message,
            "internal error; see the gateway's log"
        );
    }
}
