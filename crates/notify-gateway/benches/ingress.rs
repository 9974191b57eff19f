//! Ingress benchmark: accepted messages per second and latency of `POST /v1/messages` at 1, 16
//! and 64 concurrent callers, on Postgres (a fresh schema) and on SQLite, through the real
//! router and group committer over loopback HTTP. Also one `SELECT 1` round trip through the
//! pool. Prints a Markdown table for BENCHMARKS.md.
//!
//! `cargo bench -p notify-gateway --bench ingress` (env `BENCH_MESSAGES` per level, default
//! 20000; `NOTIFY_TEST_PG` for the Postgres URL).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{open_store, serve, Backend, SECRET};

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
    println!("| backend | callers | accepted msg/s | p50 | p99 | RSS after (MB) |");
    println!("|---|---|---|---|---|---|");
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let scratch = open_store(backend).await;
        let store = scratch.store.clone();
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
        scratch.remove().await;
    }
}
