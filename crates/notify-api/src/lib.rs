//! The HTTP API of notify-gateway (contract §3–§4): ingress with group commit, reads, recalls,
//! card state updates, admin views, caller authentication, OpenAPI and metrics.
//!
//! The binary builds an [`AppState`] and serves [`router`] with [`serve`], which adds what
//! `axum::serve` lacks (header-read and request timeouts, a connection cap):
//!
//! ```ignore
//! let state = notify_api::AppState::new(store, channels, api_config, Some(prometheus_handle));
//! notify_api::describe_metrics();
//! notify_api::serve(listener, notify_api::router(state), ServerLimits::default(), shutdown).await;
//! ```

pub mod auth;
pub mod background;
pub mod body_budget;
pub mod config;
pub mod error;
pub mod extract;
pub mod ingress;
pub mod metrics_help;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod state;
pub mod views;

pub use auth::Caller;
pub use config::{ApiConfig, ClientConfig};
pub use error::ApiError;
pub use metrics_help::describe_metrics;
pub use routes::{operator_router, router};
pub use server::{serve, ServerLimits};
pub use state::AppState;
