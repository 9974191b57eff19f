//! Rate-limit benchmark (issue 5): the dispatcher against the simulator enforcing WeLink's caps
//! exactly, on Postgres (fresh schemas, dropped afterwards). Prints the figures for
//! BENCHMARKS.md:
//!
//! 1. one process, two WeLink lanes of 1,500 deliveries each: per-lane calls/min against the
//!    1500 cap, sliding maxima, `48503` count;
//! 2. three replicas (three dispatchers with their own pools in this process, one schema), seven
//!    lanes of one egress group: per-lane calls/min, the 20-s IP maximum, `48503` count; then the
//!    owner is aborted (no lease release, as a crash) and the time until another replica owns
//!    the lanes and until calls resume is measured;
//! 3. POST-to-upstream latency on an idle lane (p50/p99 over `BENCH_IDLE`, default 200, messages
//!    sent one at a time);
//! 4. the claim query with 1,000 and 1,000,000 queued parts in the table (p50/p99 of 200 claims
//!    of 32) and its plan.
//!
//! `cargo bench -p notify-gateway --bench limits` (env `NOTIFY_TEST_PG`; `BENCH_ONLY=1,3` runs a
//! subset).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{serve_state, state_with, SECRET};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, Clock, Secret, SystemClock};
use notify_dispatch::{DispatchConfig, Dispatcher};
use notify_simulator::Simulator;
use notify_store::{Store, StoreOptions};
use notify_testkit::pg_url;
use serde_json::{json, Value};
use tokio::sync::watch;

const CARD: &str = "/api/messages/v2/card/common";

async fn store(schema: &str, max_connections: u32) -> Store {
    let mut o = StoreOptions::new(pg_url());
    o.schema = Some(schema.to_string());
    o.max_connections = max_connections;
    let s = Store::connect(&o, Arc::new(SystemClock))
        .await
        .expect("connect");
    s.migrate().await.expect("migrate");
    s
}

fn welink(name: &str, sim: SocketAddr, client: &str, group: &str) -> ChannelHandle {
    let mut c = ChannelConfig::of_kind(ChannelKind::Welink);
    c.base_url = Some(format!("http://{sim}/api"));
    c.client_id = Some(client.into());
    c.client_secret = Some(Secret::new("s"));
    c.owner = Some("Ops".into());
    c.egress_group = Some(group.into());
    build_channel(name, &c).expect("channel")
}

async fn api(store: Store, channels: Vec<ChannelHandle>) -> String {
    let state = state_with(store, channels, &["send", "read", "admin"]);
    format!("http://{}", serve_state(state).await)
}

async fn post(http: &reqwest::Client, api: &str, n: usize, channels: &[String]) {
    let targets: Vec<Value> = channels
        .iter()
        .map(|c| json!({"channel": c, "users": ["zhangsan"]}))
        .collect();
    for i in 0..n {
        let r = http
            .post(format!("{api}/v1/messages"))
            .bearer_auth(SECRET)
            .json(&json!({"title": format!("bench {i}"), "content": "x", "targets": targets}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 202);
    }
}

async fn sent(store: &Store) -> i64 {
    store
        .reads()
        .stats(None, 0)
        .await
        .expect("stats")
        .iter()
        .filter(|(_, s, _)| s == "sent")
        .map(|(_, _, n)| *n)
        .sum()
}

async fn stats(http: &reqwest::Client, sim: SocketAddr) -> Value {
    http.get(format!("http://{sim}/_sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json")
}

/// Per-lane calls/min over each lane's busy span, the lanes' window maxima, the IP maximum and
/// the 48503 count.
fn report(sim: &Simulator, st: &Value) {
    let mut by: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for c in sim.calls().into_iter().filter(|c| c.path == CARD) {
        by.entry(c.client_id.unwrap_or_default())
            .or_default()
            .push(c.at_ms);
    }
    for (client, mut ts) in by {
        ts.sort_unstable();
        let span = (ts[ts.len() - 1] - ts[0]).max(1) as f64 / 60_000.0;
        let lane = st["welink_interfaces"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|l| l["client_id"] == client.as_str() && l["interface"] == CARD)
            })
            .cloned()
            .unwrap_or(Value::Null);
        println!(
            "| {client} | {} | {:.0} | {:.1} % | {} | {} |",
            ts.len(),
            (ts.len() - 1) as f64 / span,
            (ts.len() - 1) as f64 / span / 15.0,
            lane["max_1s"],
            lane["max_60s"]
        );
    }
    let rate_limited: u64 = st["by_path"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|p| p["by_code"]["48503"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    println!(
        "IP max_20s: {} (cap 3000); 48503 answers: {rate_limited}",
        st["welink_ips"][0]["max_20s"]
    );
}

async fn single_process() {
    println!("\n## 1. One process, two lanes x 1,500 deliveries (Postgres)\n");
    let sim = Simulator::new();
    let sim_addr = sim
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let schema = format!("b_{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = store(&schema, 8).await;
    let channels = vec![
        welink("wl_a", sim_addr, "bench-a", "default"),
        welink("wl_b", sim_addr, "bench-b", "default"),
    ];
    let api = api(store.clone(), channels.clone()).await;
    let http = reqwest::Client::new();
    post(&http, &api, 1500, &["wl_a".into(), "wl_b".into()]).await;
    let d = Dispatcher::new(store.clone(), channels, DispatchConfig::default()).expect("d");
    let (tx, rx) = watch::channel(false);
    let started = Instant::now();
    let run = tokio::spawn(d.run(rx));
    while sent(&store).await < 3000 {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "3,000 deliveries in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    let _ = tx.send(true);
    let _ = run.await;
    println!(
        "| lane | calls | calls/min | of 1500 | max 1 s | max 60 s |\n|---|---|---|---|---|---|"
    );
    report(&sim, &stats(&http, sim_addr).await);
    let _ = store.drop_schema().await;
}

async fn three_replicas() {
    let lanes: usize = std::env::var("BENCH_LANES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    println!("\n## 2. Three replicas, {lanes} lanes of one egress group (Postgres)\n");
    let sim = Simulator::new();
    let sim_addr = sim
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let schema = format!("b_{}", ulid::Ulid::new().to_string().to_lowercase());
    let names: Vec<String> = (1..=lanes).map(|i| format!("wl{i}")).collect();
    let channels: Vec<ChannelHandle> = names
        .iter()
        .enumerate()
        .map(|(i, n)| welink(n, sim_addr, &format!("rep-{}", i + 1), "default"))
        .collect();
    let mut stores = Vec::new();
    let mut runs = Vec::new();
    let mut stops = Vec::new();
    for r in 0..3 {
        let s = store(&schema, 6).await;
        let d = Dispatcher::new(
            s.clone(),
            channels.clone(),
            DispatchConfig {
                replica_id: format!("replica-bench-{r}"),
                ..DispatchConfig::default()
            },
        )
        .expect("d");
        let (tx, rx) = watch::channel(false);
        runs.push(tokio::spawn(d.run(rx)));
        stops.push(tx);
        stores.push(s);
    }
    let api = api(stores[0].clone(), channels.clone()).await;
    let http = reqwest::Client::new();
    post(&http, &api, 1000, &names).await;
    let cards = || sim.calls().iter().filter(|c| c.path == CARD).count();
    let before_kill = 570 * lanes;
    while cards() < before_kill {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Crash the owner: abort its task, its lease stays in the table.
    let owner = stores[0]
        .lanes()
        .unit_owners()
        .await
        .expect("owners")
        .into_iter()
        .find(|o| o.unit == "egress:default")
        .and_then(|o| o.owner)
        .expect("owner");
    let idx: usize = owner
        .trim_start_matches("replica-bench-")
        .parse()
        .expect("idx");
    let last_before = SystemClock.now_ms();
    runs[idx].abort();
    let killed = Instant::now();
    let takeover = loop {
        let o = stores[(idx + 1) % 3]
            .lanes()
            .unit_owners()
            .await
            .expect("owners")
            .into_iter()
            .find(|o| o.unit == "egress:default")
            .and_then(|o| o.owner);
        if o.as_deref().is_some_and(|o| o != owner) {
            break killed.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    while sent(&stores[0]).await < (1000 * lanes) as i64 {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for s in &stops {
        let _ = s.send(true);
    }
    for r in runs {
        let _ = r.await;
    }
    // The longest silence after the abort: the old owner's runners stop at their lease
    // deadline (their supervisor no longer renews), the new owner starts after watching the
    // lease unchanged for a whole lease.
    let mut after: Vec<i64> = sim
        .calls()
        .into_iter()
        .filter(|c| c.path == CARD && c.at_ms >= last_before)
        .map(|c| c.at_ms)
        .collect();
    after.sort_unstable();
    let gap = after.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    println!(
        "owner's supervisor aborted after {before_kill} calls (a crash: no release, no renewal); \
         another replica owned the lanes {:.1} s later; longest pause in calls {:.1} s\n",
        takeover.as_secs_f64(),
        gap as f64 / 1000.0
    );
    println!(
        "| lane | calls | calls/min | of 1500 | max 1 s | max 60 s |\n|---|---|---|---|---|---|"
    );
    report(&sim, &stats(&http, sim_addr).await);
    let _ = stores[0].drop_schema().await;
}

async fn idle_latency() {
    println!("\n## 3. POST to upstream on an idle lane (Postgres)\n");
    let n: usize = std::env::var("BENCH_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let sim = Simulator::new();
    let sim_addr = sim
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let schema = format!("b_{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = store(&schema, 8).await;
    let channels = vec![welink("wl", sim_addr, "idle", "default")];
    let api = api(store.clone(), channels.clone()).await;
    let http = reqwest::Client::new();
    let d = Dispatcher::new(store.clone(), channels, DispatchConfig::default()).expect("d");
    let (tx, rx) = watch::channel(false);
    let run = tokio::spawn(d.run(rx));
    // Warm up: token and lane ownership.
    post(&http, &api, 1, &["wl".into()]).await;
    while sim.calls().iter().filter(|c| c.path == CARD).count() < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        // Idle: well past the lane's period since the last call.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = sim.calls().len();
        let t0 = SystemClock.now_ms();
        let started = Instant::now();
        post(&http, &api, 1, &["wl".into()]).await;
        let at = loop {
            if let Some(c) = sim.calls().get(before) {
                break c.at_ms;
            }
            if started.elapsed() > Duration::from_secs(5) {
                panic!("message {i} not sent");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        lat.push(at - t0);
    }
    lat.sort_unstable();
    println!(
        "{n} messages: p50 {} ms, p99 {} ms, max {} ms (POST sent to call recorded upstream, \
         ms resolution)",
        lat[n / 2],
        lat[n * 99 / 100],
        lat[n - 1]
    );
    let _ = tx.send(true);
    let _ = run.await;
    let _ = store.drop_schema().await;
}

async fn claim_time() {
    println!("\n## 4. Claim query with a backlog (Postgres)\n");
    for backlog in [1_000i64, 1_000_000] {
        let schema = format!("b_{}", ulid::Ulid::new().to_string().to_lowercase());
        let store = store(&schema, 4).await;
        let now = SystemClock.now_ms();
        store
            .execute_raw(&format!(
                "INSERT INTO messages (id, tenant, caller, body_hash, priority, body, status, response, created_at, updated_at, expires_at) \
                 VALUES ('m', 't0', 'c', 'h', 2, '{{}}', 'accepted', '{{}}', {now}, {now}, {})",
                now + 86_400_000
            ))
            .await
            .expect("message");
        store
            .execute_raw(&format!(
                "INSERT INTO deliveries (id, message_id, seq, tenant, channel, kind, native_type, status, created_at, updated_at, expires_at) \
                 VALUES ('d', 'm', 0, 't0', 'log', 'log', 'log', 'queued', {now}, {now}, {})",
                now + 86_400_000
            ))
            .await
            .expect("delivery");
        // Ten tenants, four priorities, one lane.
        store
            .execute_raw(&format!(
                "INSERT INTO parts (id, delivery_id, message_id, seq, op, lane, interface, channel, tenant, priority, status, body, next_attempt_at, expires_at, created_at, updated_at) \
                 SELECT 'p' || lpad(g::text, 8, '0'), 'd', 'm', g, 'send', 'log:log|log', 'log', 'log', 't' || (g % 10), g % 4, 'queued', '{{}}', {now} - 1000 + g % 997, {}, {now}, {now} \
                 FROM generate_series(1, {backlog}) g",
                now + 86_400_000
            ))
            .await
            .expect("parts");
        store.execute_raw("ANALYZE parts").await.expect("analyze");
        let mut lat = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let c = store
                .outbox()
                .claim("log:log|log", "bench", 32, 60_000)
                .await
                .expect("claim");
            lat.push(t.elapsed());
            assert_eq!(c.len(), 32);
            // Keep the backlog as it was (not timed).
            store
                .execute_raw("UPDATE parts SET status = 'queued' WHERE status = 'sending'")
                .await
                .expect("requeue");
        }
        lat.sort_unstable();
        println!(
            "{backlog} queued: claim of 32 p50 {:.2} ms, p99 {:.2} ms",
            lat[100].as_secs_f64() * 1e3,
            lat[198].as_secs_f64() * 1e3
        );
        if backlog == 1_000_000 {
            let plan = std::process::Command::new("psql")
                .arg(pg_url())
                .args([
                    "-qAtc",
                    &format!(
                        "SET search_path TO {schema}; EXPLAIN (COSTS OFF) \
                         SELECT id FROM parts WHERE lane = 'log:log|log' AND tenant = 't3' AND status = 'queued' \
                         AND next_attempt_at <= {now} ORDER BY priority, next_attempt_at, id LIMIT 32"
                    ),
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default();
            println!("per-tenant scan plan:\n```\n{}```", plan);
        }
        let _ = store.drop_schema().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::var("BENCH_ONLY").unwrap_or_else(|_| "1,2,3,4".into());
    println!(
        "# limits bench, {} (nproc {})",
        SystemClock.now(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if only.contains('1') {
        single_process().await;
    }
    if only.contains('2') {
        three_replicas().await;
    }
    if only.contains('3') {
        idle_latency().await;
    }
    if only.contains('4') {
        claim_time().await;
    }
}
