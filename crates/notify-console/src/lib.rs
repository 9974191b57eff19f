//! The admin console (contract §8), served by the gateway under `/console/`:
//!
//! - the page (HTML, script and stylesheet compiled in; no external asset, a strict CSP),
//! - sign-in with an admin caller's access key and secret, which opens a signed, HttpOnly,
//!   `SameSite=Strict` session cookie for `/console` ([`session`]),
//! - `/console/api/activity`: the store reads of the **Now** view that the API does not give
//!   (calls per lane and minute, oldest queued part per lane, suppressed messages)
//!   ([`activity`]),
//! - `/console/api/v1/...`: the API's own routes, called as the signed-in admin caller
//!   ([`forward`]); reads and the changes the console makes (recall, retry, acknowledge,
//!   the directory's people and groups).
//!
//! The binary merges [`router`] into its main router.

pub mod activity;
mod error;
pub mod forward;
mod page;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use notify_api::ClientConfig;
use notify_store::Store;

pub use error::ConsoleError;

/// Settings of the console.
#[derive(Clone)]
pub struct ConsoleConfig {
    /// Where browsers reach the gateway (`server.public_url`, or `http://{listen}`): the
    /// session cookie is `Secure` when it is https.
    pub public_url: String,
    /// HMAC key of the session cookie (`server.session_secret`). Replicas must share it.
    pub session_secret: Vec<u8>,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// The configured callers (`[[auth.clients]]`); only those with the `admin` scope sign in.
    pub clients: Vec<ClientConfig>,
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("public_url", &self.public_url)
            .field("session_ttl", &self.session_ttl)
            .field("clients", &self.clients.len())
            .finish()
    }
}

impl ConsoleConfig {
    /// 12 h sessions.
    pub fn new(
        public_url: impl Into<String>,
        session_secret: impl Into<Vec<u8>>,
        clients: Vec<ClientConfig>,
    ) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_string(),
            session_secret: session_secret.into(),
            session_ttl: Duration::from_secs(12 * 3600),
            clients,
        }
    }

    /// The session cookie gets `Secure` when the console is served over https.
    pub fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Everything the console's handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ConsoleState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub config: ConsoleConfig,
    /// The API's router, which [`forward`] calls in-process.
    pub api: Router,
}

impl ConsoleState {
    /// A console over `store`, passing its `/console/api/v1/` calls to `api` (the router of
    /// [`notify_api::router`]). An empty session secret is refused.
    pub fn new(store: Store, api: Router, config: ConsoleConfig) -> Result<Self, String> {
        if config.session_secret.is_empty() {
            return Err("the console needs a session secret".into());
        }
        Ok(Self {
            inner: Arc::new(Inner { store, config, api }),
        })
    }
}

/// The console's routes, all under `/console`.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/console", get(page::to_index))
        .route("/console/", get(page::index))
        .route("/console/console.js", get(page::script))
        .route("/console/console.css", get(page::style))
        .route("/console/api/session", get(session::current))
        .route("/console/api/sign-in", post(session::sign_in))
        .route("/console/api/sign-out", post(session::sign_out))
        .route("/console/api/activity", get(activity::activity))
        .route(
            "/console/api/v1/{*rest}",
            get(forward::forward)
                .post(forward::forward)
                .put(forward::forward)
                .delete(forward::forward),
        )
        .layer(axum::middleware::from_fn(page::security_headers))
        .with_state(state)
}
