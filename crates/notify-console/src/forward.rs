//! `/console/api/v1/...`: the API's own routes, called in-process as the signed-in admin.
//!
//! The console does not re-implement any read or action: a request with a live session (and,
//! for a change, its CSRF token) is handed to the API's router as `/v1/...` with the admin
//! caller's current secret as a bearer token, so the API's handlers, scopes, rate limits,
//! request ids, logs and metrics apply exactly as for a caller using its key. The secret never
//! leaves the process: the browser holds only the signed cookie. Only the reads (`GET`) and the
//! changes the console's views make (recall, retry, acknowledge; writing and removing people
//! and groups) are passed on; every change carries the session's CSRF token
//! ([`crate::session::check`]).
//!
//! The route is matched on the request's raw (still percent-encoded) path, so an alert key or
//! person id holding `/` stays one segment and reaches the API encoded as the browser sent it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::session::check;
use crate::{ConsoleError, ConsoleState};

/// Where the forwarded routes start in the console's path space.
const PREFIX: &str = "/console/api/v1/";

/// True for the API routes the console may call with `method`; `rest` is the path after
/// `/v1/`, still percent-encoded. No segment may be empty.
fn allowed(method: &Method, rest: &str) -> bool {
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return false;
    }
    match *method {
        Method::GET => matches!(
            segments.as_slice(),
            ["messages"]
                | ["messages", _]
                | ["channels"]
                | ["stats"]
                | ["alerts"]
                | ["alerts", _]
                | ["people"]
                | ["people", _]
                | ["groups"]
                | ["groups", _]
        ),
        Method::POST => matches!(
            segments.as_slice(),
            ["messages", _, "recall"] | ["deliveries", _, "retry"] | ["messages", _, "ack"]
        ),
        Method::PUT | Method::DELETE => {
            matches!(segments.as_slice(), ["people", _] | ["groups", _])
        }
        _ => false,
    }
}

/// `GET|POST|PUT|DELETE /console/api/v1/{*rest}`.
pub(crate) async fn forward(
    State(s): State<ConsoleState>,
    req: Request,
) -> Result<Response, ConsoleError> {
    let (parts, body) = req.into_parts();
    let (_, client) = check(&s, &parts.method, &parts.headers)?;
    let rest = parts
        .uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .to_string();
    if !allowed(&parts.method, &rest) {
        return Err(ConsoleError::NotFound(format!(
            "{} /v1/{rest}",
            parts.method
        )));
    }
    let uri = match parts.uri.query() {
        Some(q) => format!("/v1/{rest}?{q}"),
        None => format!("/v1/{rest}"),
    };
    let bearer = HeaderValue::from_str(&format!("Bearer {}", client.secret_key.expose()))
        .map_err(|_| ConsoleError::Unauthenticated("this key cannot be sent as a header".into()))?;
    let mut inner = Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .header(header::AUTHORIZATION, bearer);
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
        if let Some(v) = parts.headers.get(&name) {
            inner = inner.header(name, v.clone());
        }
    }
    if let Some(id) = parts.headers.get("x-request-id") {
        inner = inner.header("x-request-id", id.clone());
    }
    let inner = inner
        .body(Body::new(body))
        .map_err(|e| ConsoleError::NotFound(format!("/v1/{rest}: {e}")))?;
    // The router's error type is Infallible.
    let resp = match s.inner.api.clone().oneshot(inner).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    Ok(resp.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_reads_and_changes_the_console_makes_are_passed_on() {
        assert!(allowed(&Method::GET, "messages"));
        assert!(allowed(&Method::GET, "messages/m1"));
        assert!(allowed(&Method::GET, "channels"));
        assert!(allowed(&Method::GET, "stats"));
        assert!(allowed(&Method::POST, "messages/m1/recall"));
        assert!(allowed(&Method::POST, "deliveries/d1/retry"));
        assert!(!allowed(&Method::POST, "messages"));
        assert!(!allowed(&Method::POST, "messages/batch"));
        assert!(!allowed(&Method::POST, "messages/m1/state"));
        assert!(!allowed(&Method::GET, "messages/m1/recall"));
        assert!(!allowed(&Method::DELETE, "messages/m1"));
        // Alerts, people and groups.
        for read in [
            "alerts",
            "alerts/disk%2Fdb-3",
            "people",
            "people/zhangsan",
            "groups",
            "groups/oncall",
        ] {
            assert!(allowed(&Method::GET, read), "{read}");
        }
        assert!(allowed(&Method::POST, "messages/m1/ack"));
        for method in [Method::PUT, Method::DELETE] {
            assert!(allowed(&method, "people/zhangsan"));
            assert!(allowed(&method, "groups/oncall"));
            assert!(!allowed(&method, "people"));
            assert!(!allowed(&method, "groups"));
            assert!(!allowed(&method, "alerts/k"));
            assert!(!allowed(&method, "people/a/b"));
        }
        assert!(!allowed(&Method::POST, "people/zhangsan"));
        assert!(!allowed(&Method::POST, "alerts/k"));
        assert!(!allowed(&Method::GET, "messages/m1/ack"));
        assert!(!allowed(&Method::PUT, "people/"));
        assert!(!allowed(&Method::GET, "alerts/"));
        assert!(!allowed(&Method::PATCH, "people/zhangsan"));
        assert!(!allowed(&Method::POST, "hooks/alertmanager"));
    }
}
