//! What the benchmarks share: the binary's allocator, a store on a fresh Postgres schema or
//! SQLite file (notify-testkit), and the real router with one bearer caller on 127.0.0.1:0. Each bench uses its
//! own part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, Secret, SystemClock};
use notify_store::Store;
pub use notify_testkit::{Backend, ScratchStore};

/// The allocator the binary uses (src/main.rs), so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bench caller's bearer secret.
pub const SECRET: &str = "bench-secret";

/// A migrated store of `backend` on the system clock with 16 connections: a fresh Postgres
/// schema or SQLite file, removed by [`ScratchStore::remove`].
pub async fn open_store(backend: Backend) -> ScratchStore {
    ScratchStore::open(backend, 16, Arc::new(SystemClock)).await
}

/// The bench caller (bearer [`SECRET`], tenant `default`) with `scopes`.
pub fn caller(scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        name: "bench".into(),
        access_key: "AK".into(),
        secret_key: Secret::new(SECRET),
        previous_secret_key: None,
        tenant: "default".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        max_per_second: 0,
        connector_signing: false,
    }
}

/// The API's state over `channels`, with the bench caller holding `scopes`.
pub fn state_with(store: Store, channels: Vec<ChannelHandle>, scopes: &[&str]) -> AppState {
    let cfg = ApiConfig {
        clients: vec![caller(scopes)],
        ..ApiConfig::default()
    };
    AppState::new(store, channels, cfg, None)
}

/// The API's state: a `log` channel and the bench caller (send, read).
pub fn app_state(store: Store) -> AppState {
    let log = build_channel("log", &ChannelConfig::of_kind(ChannelKind::Log)).expect("log channel");
    state_with(store, vec![log], &["send", "read"])
}

/// The real router over `state` on a free loopback port.
pub async fn serve_state(state: AppState) -> SocketAddr {
    let app = notify_api::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The real router over `store` ([`app_state`]) on a free loopback port.
pub async fn serve(store: Store) -> SocketAddr {
    serve_state(app_state(store)).await
}
