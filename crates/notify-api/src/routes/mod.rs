//! The router: every route, with the body limit, request ids, tracing and request metrics.

pub mod ack;
pub mod ack_page;
pub mod actions;
pub mod admin;
pub mod alerts;
pub mod batch;
pub mod directory;
pub mod docs;
pub mod hooks;
pub mod messages;
pub mod system;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::auth::authenticate;
use crate::state::AppState;

/// Every route as `(method, path)`, as the OpenAPI document must list them.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/messages"),
    ("get", "/v1/messages"),
    ("post", "/v1/messages/batch"),
    ("get", "/v1/messages/{id}"),
    ("post", "/v1/messages/{id}/recall"),
    ("post", "/v1/messages/{id}/state"),
    ("post", "/v1/messages/{id}/ack"),
    ("post", "/v1/deliveries/{id}/retry"),
    ("get", "/v1/alerts"),
    ("get", "/v1/alerts/{key}"),
    ("put", "/v1/people/{id}"),
    ("get", "/v1/people/{id}"),
    ("delete", "/v1/people/{id}"),
    ("get", "/v1/people"),
    ("put", "/v1/groups/{name}"),
    ("get", "/v1/groups/{name}"),
    ("delete", "/v1/groups/{name}"),
    ("get", "/v1/groups"),
    ("get", "/v1/channels"),
    ("get", "/v1/stats"),
    ("post", "/v1/hooks/{name}"),
    ("post", "/v1/hooks/{name}/preview"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/ack/{token}"),
    ("post", "/ack/{token}"),
];

/// The routes for operators: `/metrics`, `/openapi.json` and `/docs`.
/// A list route's `limit`: 1 to 500, 50 when absent or empty (a 422 naming `limit` else).
pub(crate) fn page_size(limit: Option<&str>) -> Result<i64, crate::error::ApiError> {
    match limit {
        None | Some("") => Ok(50),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => Ok(n),
            _ => Err(crate::error::ApiError::invalid(
                "limit",
                "invalid",
                "limit takes 1 to 500",
            )),
        },
    }
}

fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .route("/docs", get(docs::docs))
}

/// The operator routes alone, for the listener of `server.metrics_listen`, with the same JSON
/// fallbacks and request ids as [`router`].
pub fn operator_router(state: AppState) -> Router {
    operator_routes()
        .fallback(system::no_route)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(UlidRequestId))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// The whole API; without the operator routes when `operator_routes_on_api` is false.
pub fn router(state: AppState) -> Router {
    let max_body = state.config().max_body_bytes;
    let operator = if state.config().operator_routes_on_api {
        operator_routes()
    } else {
        Router::new()
    };
    let v1 = Router::new()
        .route("/v1/messages", post(messages::create).get(messages::list))
        .route("/v1/messages/batch", post(batch::create_batch))
        .route("/v1/messages/{id}", get(messages::get_one))
        .route("/v1/messages/{id}/recall", post(actions::recall))
        .route("/v1/messages/{id}/state", post(actions::state))
        .route("/v1/messages/{id}/ack", post(ack::ack))
        .route("/v1/deliveries/{id}/retry", post(actions::retry))
        .route("/v1/alerts", get(alerts::list))
        .route("/v1/alerts/{key}", get(alerts::get_one))
        .route(
            "/v1/people/{id}",
            put(directory::put_person)
                .get(directory::get_person)
                .delete(directory::delete_person),
        )
        .route("/v1/people", get(directory::list_people))
        .route(
            "/v1/groups/{name}",
            put(directory::put_group)
                .get(directory::get_group)
                .delete(directory::delete_group),
        )
        .route("/v1/groups", get(directory::list_groups))
        .route("/v1/channels", get(admin::channels))
        .route("/v1/stats", get(admin::stats))
        .route("/v1/hooks/{name}/preview", post(hooks::preview))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    // Alert sources authenticate with their hook's own token, not as API clients.
    let sources = Router::new().route("/v1/hooks/{name}", post(hooks::receive));
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        // The acknowledge link's page: its token is the credential, not a caller's key.
        .route("/ack/{token}", get(ack_page::show).post(ack_page::submit))
        .merge(operator)
        .merge(v1)
        .merge(sources)
        .route_layer(middleware::from_fn(record_metrics))
        .fallback(system::no_route)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(UlidRequestId))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // `message` is filled in by the handler that knows it (ingress, reads,
                    // actions), so every line of a request can be found from a message id.
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id, message = tracing::field::Empty)
                }))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// Request ids for requests that come without one.
#[derive(Debug, Clone, Copy)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ulid::Ulid::new().to_string())
            .ok()
            .map(RequestId::new)
    }
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("notify_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("notify_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
