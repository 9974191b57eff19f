//! Ingress benchmark: accepted messages per second and latency of `POST /v1/messages` at 1, 16
//! and 64 concurrent callers, on Postgres (a fresh schema) and on SQLite, through the real
//! router and group committer over loopback HTTP. Also one `SELECT 1` round trip through the
//! pool. Prints a Markdown table for BENCHMARKS.md.
//!
//! `cargo bench -p notify-gateway --bench ingress` (env `BENCH_MESSAGES` per level, default
//! 20000; `NOTIFY_TEST_PG` for the Postgres URL).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig};
use notify_core::{ChannelKind, Secret, SystemClock};
use notify_store::{Store, StoreOptions};

const SECRET: &str = "bench-secret";

async fn serve(store: Store) -> SocketAddr {
    let log = build_channel("log", &ChannelConfig::of_kind(ChannelKind::Log)).expect("log channel");
    let cfg = ApiConfig {
        clients: vec![ClientConfig {
            name: "bench".into(),
            access_key: "AK".into(),
            secret_key: Secret::new(SECRET),
            previous_secret_key: None,
            tenant: "default".into(),
            scopes: vec!["send".into(), "read".into()],
            max_per_second: 0,
            connector_signing: false,
        }],
        ..ApiConfig::default()
    };
    let app = notify_api::router(AppState::new(store, vec![log], cfg, None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn level(addr: SocketAddr, callers: usize, total: usize) -> (f64, Duration, Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(callers)
        .build()
        .expect("client");
    let per = total / callers;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let body = format!(
                    r#"{{"title":"Disk almost full {c}-{i}","content":"db-3 /var at 95%","targets":[{{"channel":"log","users":["u{i}"]}}]}}"#
                );
                let t = Instant::now();
                let r = client
                    .post(format!("http://{addr}/v1/messages"))
                    .bearer_auth(SECRET)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status().as_u16(), 202);
                let _ = r.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    all.sort();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    (all.len() as f64 / elapsed.as_secs_f64(), p(0.50), p(0.99))
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let pg = std::env::var("NOTIFY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    println!("| backend | callers | accepted msg/s | p50 | p99 | RSS after (MB) |");
    println!("|---|---|---|---|---|---|");
    for backend in ["postgres", "sqlite"] {
        let (opts, file) = if backend == "postgres" {
            let mut o = StoreOptions::new(pg.clone());
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
        let mut rt = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            store.ping().await.expect("ping");
            rt.push(t.elapsed());
        }
        rt.sort();
        let addr = serve(store.clone()).await;
        for callers in [1usize, 16, 64] {
            let n = if callers == 1 { total / 10 } else { total };
            let (rate, p50, p99) = level(addr, callers, n).await;
            println!(
                "| {backend} | {callers} | {rate:.0} | {:.2} ms | {:.2} ms | {:.0} |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                rss_mb()
            );
        }
        println!(
            "| {backend} | `SELECT 1` round trip p50 {:.3} ms, p99 {:.3} ms | | | | |",
            rt[100].as_secs_f64() * 1e3,
            rt[198].as_secs_f64() * 1e3
        );
        store.drop_schema().await.expect("drop schema");
        store.close().await;
        if let Some(f) = file {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", f.display()));
            }
        }
    }
}
