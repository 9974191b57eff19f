//! Batch ingress benchmark: accepted messages per second through `POST /v1/messages/batch`
//! (1,000 messages per request, each with its own idempotency key) at 1, 2 and 4 concurrent
//! callers on Postgres (a fresh schema) and 1 on SQLite, over loopback HTTP through the real router.
//! Then where the time of one batch goes: parsing, checking and planning 1,000 messages
//! (`ingress::plan::build`) against the store's `insert_messages` of the same 1,000.
//!
//! `cargo bench -p notify-gateway --bench batch` (env `BENCH_BATCHES` per level, default 40;
//! `BENCH_BACKENDS`, default `postgres,sqlite`; `NOTIFY_TEST_PG` for the Postgres URL). Prints Markdown for BENCHMARKS.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_api::auth::{Caller, Scheme};
use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig};
use notify_core::{ChannelKind, Clock, Secret, SystemClock};
use notify_store::{Store, StoreOptions};

const SECRET: &str = "bench-secret";
const PER_BATCH: usize = 1000;

fn state(store: Store) -> AppState {
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
    AppState::new(store, vec![log], cfg, None)
}

async fn serve(store: Store) -> SocketAddr {
    let app = notify_api::router(state(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn message(run: &str, b: usize, i: usize) -> String {
    format!(
        r#"{{"idempotency_key":"{run}-{b}-{i}","title":"Disk almost full {b}-{i}","content":"db-3 /var at 95%","targets":[{{"channel":"log","users":["u{i}"]}}]}}"#
    )
}

fn batch_body(run: &str, b: usize) -> String {
    let mut s = String::with_capacity(PER_BATCH * 160);
    s.push_str(r#"{"messages":["#);
    for i in 0..PER_BATCH {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&message(run, b, i));
    }
    s.push_str("]}");
    s
}

async fn level(addr: SocketAddr, callers: usize, batches: usize) -> (f64, Duration, Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(callers)
        .build()
        .expect("client");
    let run = ulid::Ulid::new().to_string();
    // Bodies are built before the clock starts: the load generator shares the 2 cores.
    let bodies: Vec<String> = (0..batches).map(|b| batch_body(&run, b)).collect();
    let per = batches / callers;
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut it = bodies.into_iter();
    for _ in 0..callers {
        chunks.push(it.by_ref().take(per).collect());
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for bodies in chunks {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(bodies.len());
            for body in bodies {
                let t = Instant::now();
                let r = client
                    .post(format!("http://{addr}/v1/messages/batch"))
                    .bearer_auth(SECRET)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status().as_u16(), 200);
                let v: serde_json::Value = r.json().await.expect("json");
                assert_eq!(v["accepted"], PER_BATCH, "{}", v["results"][0]);
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
    (
        (all.len() * PER_BATCH) as f64 / elapsed.as_secs_f64(),
        p(0.50),
        p(0.99),
    )
}

/// Time of planning 1,000 messages and of inserting them, each averaged over `rounds`.
async fn phases(store: &Store, rounds: usize) -> (Duration, Duration) {
    let st = state(store.clone());
    let caller = Caller {
        name: "bench".into(),
        access_key: "AK".into(),
        tenant: "default".into(),
        scopes: vec!["send".into()],
        scheme: Scheme::Bearer,
    };
    let run = ulid::Ulid::new().to_string();
    let (mut plan, mut insert) = (Duration::ZERO, Duration::ZERO);
    for b in 0..rounds {
        let raw: Vec<String> = (0..PER_BATCH).map(|i| message(&run, b, i)).collect();
        let now = SystemClock.now_ms();
        let t = Instant::now();
        let messages: Vec<_> = raw
            .iter()
            .map(|m| {
                notify_api::ingress::plan::build(&st, &caller, m.as_bytes(), None, now)
                    .expect("valid")
                    .message
            })
            .collect();
        plan += t.elapsed();
        let t = Instant::now();
        store.insert_messages(&messages).await.expect("insert");
        insert += t.elapsed();
    }
    (plan / rounds as u32, insert / rounds as u32)
}

#[tokio::main]
async fn main() {
    let batches: usize = std::env::var("BENCH_BATCHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let pg = std::env::var("NOTIFY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    println!(
        "| backend | callers | batches × 1,000 | accepted msg/s | p50 per batch | p99 per batch |"
    );
    println!("|---|---|---|---|---|---|");
    let mut profile = Vec::new();
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "postgres,sqlite".into());
    for backend in ["postgres", "sqlite"] {
        if !backends.split(',').any(|b| b == backend) {
            continue;
        }
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
        let addr = serve(store.clone()).await;
        // One warm-up batch (statement caches, lane registration).
        level(addr, 1, 1).await;
        // SQLite has one writer: concurrent batches only queue on its lock (and past the
        // pool's acquire timeout they are 503), so it runs with one caller.
        let levels: &[usize] = if backend == "postgres" {
            &[1, 2, 4]
        } else {
            &[1]
        };
        for &callers in levels {
            let (rate, p50, p99) = level(addr, callers, batches).await;
            println!(
                "| {backend} | {callers} | {batches} | {rate:.0} | {:.1} ms | {:.1} ms |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
            );
        }
        let (plan, insert) = phases(&store, 10).await;
        profile.push((backend, plan, insert));
        store.drop_schema().await.expect("drop schema");
        store.close().await;
        if let Some(f) = file {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", f.display()));
            }
        }
    }
    println!();
    println!("| backend | plan 1,000 (parse, check, plan) | insert_messages of 1,000 |");
    println!("|---|---|---|");
    for (backend, plan, insert) in profile {
        println!(
            "| {backend} | {:.1} ms | {:.1} ms |",
            plan.as_secs_f64() * 1e3,
            insert.as_secs_f64() * 1e3
        );
    }
}
