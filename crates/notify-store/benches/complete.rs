//! Completion benchmark: how long `Outbox::complete` takes to apply one dispatcher batch of 256
//! finished parts (256 single-part deliveries of 256 messages, each part `done` with its attempt
//! logged, as the `log` channel's drain writes them), on Postgres (a fresh schema) and on SQLite
//! (a fresh file). Only the `complete` call is timed: the batch is inserted and claimed before
//! the clock starts. Prints a Markdown table for BENCHMARKS.md.
//!
//! Besides the wall time, the CPU the call cost: this process's (the store's client side, and
//! all of SQLite) and, on Postgres, the server backends serving this store's connections
//! (found by the `application_name` this bench gives them; their CPU read from
//! `/proc/<pid>/task/*/schedstat`, so the Postgres server must run on this machine). On a
//! machine loaded by other work the wall time mostly measures the wait for a core; the CPU
//! figures do not.
//!
//! `cargo bench -p notify-store --bench complete` (env `BENCH_BATCHES`, timed batches per
//! backend, default 40, after 3 untimed ones; `BENCH_BACKENDS`, default `postgres,sqlite`;
//! `NOTIFY_TEST_PG` for the Postgres URL, without query parameters).

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_core::{PartOp, SystemClock};
use notify_store::{
    AttemptRecord, Completion, LaneInfo, NewDelivery, NewMessage, NewPart, PartResult, Store,
};
use notify_testkit::{Backend, ScratchStore};
use sqlx::postgres::PgPool;

/// The dispatcher's largest completion batch.
const PER_BATCH: usize = 256;
const WARM_UP: usize = 3;

fn lane() -> LaneInfo {
    LaneInfo::new("logch", "log:logch", "log", "log:logch")
}

fn message(now: i64) -> NewMessage {
    let id = notify_core::MessageId::new_at(now).0;
    NewMessage {
        id: id.clone(),
        tenant: "default".into(),
        caller: "bench".into(),
        body_hash: "h".into(),
        priority: 2,
        title: "Disk almost full".into(),
        body: "{}".into(),
        response: format!("{{\"id\":\"{id}\"}}"),
        created_at: now,
        expires_at: now + 3_600_000,
        deliveries: vec![NewDelivery {
            id: notify_core::DeliveryId::new_at(now).0,
            seq: 0,
            channel: "logch".into(),
            kind: notify_core::ChannelKind::Log,
            native_type: "log".into(),
            status: notify_core::DeliveryStatus::Queued,
            context: "{}".into(),
            parts: vec![NewPart {
                id: notify_core::PartId::new_at(now).0,
                seq: 0,
                op: PartOp::Send,
                lane: lane(),
                body: "{}".into(),
                recipients: "[]".into(),
                depends_on: None,
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// CPU time spent so far by the threads of process `pid`, in ns (`None`: it is gone).
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// The Postgres backends serving the bench's store, and their CPU so far.
async fn server_cpu(admin: &PgPool) -> Vec<(u32, u64)> {
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(APP_NAME)
            .fetch_all(admin)
            .await
            .expect("pg_stat_activity");
    pids.into_iter()
        .filter_map(|p| Some((p as u32, cpu_ns(p as u32)?)))
        .collect()
}

/// The CPU the server backends spent between two [`server_cpu`] readings (a backend that
/// appeared in between counts from zero).
fn server_spent(before: &[(u32, u64)], after: &[(u32, u64)]) -> u64 {
    after
        .iter()
        .map(|(pid, ns)| {
            let was = before.iter().find(|(p, _)| p == pid).map_or(0, |(_, n)| *n);
            ns.saturating_sub(was)
        })
        .sum()
}

const APP_NAME: &str = "notify-bench-complete";

/// What one completion batch cost.
#[derive(Default, Clone, Copy)]
struct Cost {
    wall: Duration,
    client_cpu_ns: u64,
    server_cpu_ns: u64,
}

/// Inserts and claims one batch, then times its completion.
async fn one_batch(store: &Store, admin: Option<&PgPool>) -> Cost {
    let now = store.now_ms();
    let batch: Vec<NewMessage> = (0..PER_BATCH).map(|_| message(now)).collect();
    store
        .outbox()
        .insert_messages(&batch)
        .await
        .expect("insert");
    let claimed = store
        .outbox()
        .claim(&lane().lane, "bench", PER_BATCH as i64, 60_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), PER_BATCH, "the whole batch is claimed");
    let completions: Vec<Completion> = claimed
        .iter()
        .map(|p| Completion {
            part_id: p.id.clone(),
            lease_token: p.lease_token.clone(),
            result: PartResult::Done {
                upstream_id: Some(format!("up-{}", p.id)),
                failed_recipients: vec![],
            },
            attempt: Some(AttemptRecord {
                at: now,
                endpoint: "log".into(),
                http_status: None,
                upstream_code: None,
                upstream_message: None,
                duration_ms: 0,
                outcome: "sent".into(),
                possible_duplicate: false,
            }),
        })
        .collect();
    let me = std::process::id();
    let server_before = match admin {
        Some(a) => server_cpu(a).await,
        None => Vec::new(),
    };
    let client_before = cpu_ns(me).unwrap_or(0);
    let started = Instant::now();
    let applied = store
        .outbox()
        .complete(&completions)
        .await
        .expect("complete");
    let wall = started.elapsed();
    let client_cpu_ns = cpu_ns(me).unwrap_or(0).saturating_sub(client_before);
    let server_cpu_ns = match admin {
        Some(a) => server_spent(&server_before, &server_cpu(a).await),
        None => 0,
    };
    assert!(applied.iter().all(|a| *a), "every completion applies");
    Cost {
        wall,
        client_cpu_ns,
        server_cpu_ns,
    }
}

async fn run(backend: Backend, batches: usize, admin_url: &str) -> Vec<Cost> {
    let scratch = ScratchStore::open(backend, 4, Arc::new(SystemClock)).await;
    let store = scratch.store.clone();
    let admin = match backend {
        Backend::Postgres => Some(
            PgPool::connect(admin_url)
                .await
                .expect("a connection to read pg_stat_activity"),
        ),
        Backend::Sqlite => None,
    };
    for _ in 0..WARM_UP {
        one_batch(&store, admin.as_ref()).await;
    }
    let mut costs = Vec::with_capacity(batches);
    for _ in 0..batches {
        costs.push(one_batch(&store, admin.as_ref()).await);
    }
    scratch.remove().await;
    costs
}

fn us_per_part(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6 / PER_BATCH as f64
}

fn main() {
    // The store's connections carry a name of their own, so the server backends serving them
    // can be told from every other; set before the runtime starts any thread. The connection
    // that reads pg_stat_activity keeps the plain URL.
    let admin_url = notify_testkit::pg_url();
    std::env::set_var(
        "NOTIFY_TEST_PG",
        format!("{admin_url}?application_name={APP_NAME}"),
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench(&admin_url));
}

async fn bench(admin_url: &str) {
    let batches: usize = std::env::var("BENCH_BATCHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "postgres,sqlite".into());
    println!(
        "| backend | batches × parts | wall per batch p50 | p90 | wall µs per part (p50) | \
         client CPU µs per part (mean) | server CPU µs per part (mean) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for name in backends.split(',') {
        let backend = match name.trim() {
            "postgres" => Backend::Postgres,
            "sqlite" => Backend::Sqlite,
            other => panic!("unknown backend {other:?} (postgres, sqlite)"),
        };
        let costs = run(backend, batches, admin_url).await;
        let mut times: Vec<Duration> = costs.iter().map(|c| c.wall).collect();
        times.sort();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        let cpu_per_part = |ns: u64| ns as f64 / 1e3 / (costs.len() * PER_BATCH) as f64;
        let server = match backend {
            Backend::Postgres => format!(
                "{:.0}",
                cpu_per_part(costs.iter().map(|c| c.server_cpu_ns).sum())
            ),
            Backend::Sqlite => "–".into(),
        };
        println!(
            "| {backend} | {batches} × {PER_BATCH} | {:.1} ms | {:.1} ms | {:.0} | {:.0} | {server} |",
            p(0.5).as_secs_f64() * 1e3,
            p(0.9).as_secs_f64() * 1e3,
            us_per_part(p(0.5)),
            cpu_per_part(costs.iter().map(|c| c.client_cpu_ns).sum()),
        );
    }
}
