//! Batch ingress benchmark: accepted messages per second through `POST /v1/messages/batch`
//! (1,000 messages per request, each with its own idempotency key) at 1, 2 and 4 concurrent
//! callers on Postgres (a fresh schema) and 1 on SQLite, over loopback HTTP through the real router.
//! Then where the time of one batch goes: parsing, checking and planning 1,000 messages
//! (`ingress::plan::build`) against the store's `insert_messages` of the same 1,000.
//!
//! `cargo bench -p notify-gateway --bench batch` (env `BENCH_BATCHES` per level, default 40;
//! `BENCH_CALLERS`, the Postgres levels, default `1,2,4` (a level may repeat: `4,4,4`);
//! `BENCH_BACKENDS`, default `postgres,sqlite`; `NOTIFY_TEST_PG` for the Postgres URL). Prints
//! Markdown for BENCHMARKS.md.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{app_state, open_store, serve, Backend, SECRET};
use notify_api::auth::Caller;
use notify_core::{Clock, SystemClock};
use notify_store::Store;

const PER_BATCH: usize = 1000;

/// The counts of a batch answer (its `results` are skipped unparsed).
#[derive(serde::Deserialize)]
struct Counts {
    accepted: usize,
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
                // Only the counts are decoded: the load generator shares the 2 cores, and a
                // full parse of 1,000 answers would be its largest cost.
                let text = r.bytes().await.expect("answer");
                let counts: Counts = serde_json::from_slice(&text).expect("json");
                assert_eq!(
                    counts.accepted,
                    PER_BATCH,
                    "{}",
                    String::from_utf8_lossy(&text[..text.len().min(500)])
                );
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
    let st = app_state(store.clone());
    let caller = Caller {
        name: "bench".into(),
        access_key: "AK".into(),
        tenant: "default".into(),
        scopes: vec!["send".into()],
    };
    let run = ulid::Ulid::new().to_string();
    let (mut plan, mut insert) = (Duration::ZERO, Duration::ZERO);
    for b in 0..rounds {
        let raw: Vec<String> = (0..PER_BATCH).map(|i| message(&run, b, i)).collect();
        let now = SystemClock.now_ms();
        let t = Instant::now();
        let mut messages = Vec::with_capacity(raw.len());
        for m in &raw {
            // Messages without people or groups never read the directory: planning stays
            // the CPU work it was.
            let accepted = notify_api::ingress::plan::build(&st, &caller, m.as_bytes(), None, now)
                .await
                .expect("valid");
            messages.push(accepted.message);
        }
        plan += t.elapsed();
        let t = Instant::now();
        store
            .outbox()
            .insert_messages(&messages)
            .await
            .expect("insert");
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
    println!(
        "| backend | callers | batches × 1,000 | accepted msg/s | p50 per batch | p99 per batch |"
    );
    println!("|---|---|---|---|---|---|");
    let mut profile = Vec::new();
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "postgres,sqlite".into());
    for backend in [Backend::Postgres, Backend::Sqlite] {
        if !backends.split(',').any(|b| b == backend.name()) {
            continue;
        }
        let scratch = open_store(backend).await;
        let store = scratch.store.clone();
        let addr = serve(store.clone()).await;
        // One warm-up batch (statement caches, lane registration).
        level(addr, 1, 1).await;
        // SQLite has one writer: concurrent batches only queue on its lock (and past the
        // pool's acquire timeout they are 503), so it runs with one caller.
        let levels: Vec<usize> = match (backend, std::env::var("BENCH_CALLERS")) {
            (Backend::Postgres, Ok(list)) => {
                list.split(',').filter_map(|c| c.parse().ok()).collect()
            }
            (Backend::Postgres, Err(_)) => vec![1, 2, 4],
            _ => vec![1],
        };
        for callers in levels {
            let (rate, p50, p99) = level(addr, callers, batches).await;
            println!(
                "| {backend} | {callers} | {batches} | {rate:.0} | {:.1} ms | {:.1} ms |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
            );
        }
        let (plan, insert) = phases(&store, 10).await;
        profile.push((backend, plan, insert));
        scratch.remove().await;
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
