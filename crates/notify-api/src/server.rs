//! Serving a router over TCP with the limits `axum::serve` has no setting for: a connection
//! that has not sent a whole request head within `header_read_timeout` is closed (also an idle
//! keep-alive connection, whose next head is due), a request that is not answered within
//! `request_timeout` gets a 408, and at most `max_connections` connections are served at once
//! (more wait in the listen backlog until one closes). Graceful shutdown works as with
//! `axum::serve`: stop accepting, let the requests in flight finish, close idle connections.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::error::ApiError;

/// The limits of one listener (`[server]`).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Time a connection has to send a whole request head (`server.header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Time a request has from its head to its answer (`server.request_timeout`).
    pub request_timeout: Duration,
    /// Connections served at once (`server.max_connections`).
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then waits for the
/// connections still open to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let app = app.layer(middleware::from_fn_with_state(
        limits.request_timeout,
        time_limit,
    ));
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the connection: over the cap, connections wait in the kernel's
        // backlog instead of holding a task and buffers here.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        // Small answers go out at once rather than waiting for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            metrics::gauge!("notify_http_connections").increment(1.0);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = async { let _ = closing.wait_for(|closing| *closing).await; } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts of silent clients and resets by clients: theirs, not ours.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            metrics::gauge!("notify_http_connections").decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every slot back means every connection has ended.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// What `axum::serve` does too: a failed accept of one connection is that connection's
/// problem; running out of file descriptors passes after a pause.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; pausing 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// 408 in the API's error shape when a request runs out of time. The connection is closed
/// after it: part of the request body may still be unread.
async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(timeout_s = limit.as_secs_f64(), "refused: request timeout");
            let mut resp = ApiError::RequestTimeout {
                ms: limit.as_millis() as u64,
            }
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}
