//! What the benchmarks share: the binary's allocator, a store on a fresh Postgres schema or
//! SQLite file, and the real router with one bearer caller on 127.0.0.1:0. Each bench uses its
//! own part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, Secret, SystemClock};
use notify_store::{Store, StoreOptions};

/// The allocator the binary uses (src/main.rs), so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bench caller's bearer secret.
pub const SECRET: &str = "bench-secret";

/// The Postgres the benchmarks make their schemas in (`NOTIFY_TEST_PG`).
pub fn pg_url() -> String {
    std::env::var("NOTIFY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A migrated store of `backend` ("postgres": a fresh schema, 16 connections; "sqlite": a fresh
/// file), and the file to remove afterwards.
pub async fn open_store(backend: &str) -> (Store, Option<PathBuf>) {
    let (opts, file) = if backend == "postgres" {
        let mut o = StoreOptions::new(pg_url());
        o.schema = Some(format!(
            "bench_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ));
        o.max_connections = 16;
        (o, None)
    } else {
        let p = std::env::temp_dir().join(format!("notify-bench-{}.db", ulid::Ulid::new()));
        (
            StoreOptions::new(format!("sqlite://{}", p.display())),
            Some(p),
        )
    };
    let store = Store::connect(&opts, Arc::new(SystemClock))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    (store, file)
}

/// Drops the Postgres schema or removes the SQLite file (and its WAL) of [`open_store`].
pub async fn close_store(store: Store, file: Option<PathBuf>) {
    store.drop_schema().await.expect("drop schema");
    store.close().await;
    if let Some(f) = file {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", f.display()));
        }
    }
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
