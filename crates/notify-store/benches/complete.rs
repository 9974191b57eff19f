//! Completion benchmark: how long `Store::complete` takes to apply one dispatcher batch of 256
//! finished parts (256 single-part deliveries of 256 messages, each part `done` with its attempt
//! logged, as the `log` channel's drain writes them), on Postgres (a fresh schema) and on SQLite
//! (a fresh file). Only the `complete` call is timed: the batch is inserted and claimed before
//! the clock starts. Prints a Markdown table for BENCHMARKS.md.
//!
//! `cargo bench -p notify-store --bench complete` (env `BENCH_BATCHES`, timed batches per
//! backend, default 40, after 3 untimed ones; `BENCH_BACKENDS`, default `postgres,sqlite`;
//! `NOTIFY_TEST_PG` for the Postgres URL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_core::{PartOp, SystemClock};
use notify_store::{
    AttemptRecord, Completion, LaneInfo, NewDelivery, NewMessage, NewPart, PartResult, Store,
};
use notify_testkit::{Backend, ScratchStore};

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
            kind: "log".into(),
            native_type: "log".into(),
            status: "queued".into(),
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

/// Inserts and claims one batch, then times its completion.
async fn one_batch(store: &Store) -> Duration {
    let now = store.now_ms();
    let batch: Vec<NewMessage> = (0..PER_BATCH).map(|_| message(now)).collect();
    store.insert_messages(&batch).await.expect("insert");
    let claimed = store
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
    let started = Instant::now();
    let applied = store.complete(&completions).await.expect("complete");
    let elapsed = started.elapsed();
    assert!(applied.iter().all(|a| *a), "every completion applies");
    elapsed
}

async fn run(backend: Backend, batches: usize) -> Vec<Duration> {
    let scratch = ScratchStore::open(backend, 4, Arc::new(SystemClock)).await;
    let store = scratch.store.clone();
    for _ in 0..WARM_UP {
        one_batch(&store).await;
    }
    let mut times = Vec::with_capacity(batches);
    for _ in 0..batches {
        times.push(one_batch(&store).await);
    }
    scratch.remove().await;
    times
}

fn us_per_part(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6 / PER_BATCH as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let batches: usize = std::env::var("BENCH_BATCHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "postgres,sqlite".into());
    println!("| backend | batches × parts | per batch p50 | p90 | µs per part (p50) | µs per part (mean) |");
    println!("|---|---|---|---|---|---|");
    for name in backends.split(',') {
        let backend = match name.trim() {
            "postgres" => Backend::Postgres,
            "sqlite" => Backend::Sqlite,
            other => panic!("unknown backend {other:?} (postgres, sqlite)"),
        };
        let mut times = run(backend, batches).await;
        times.sort();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        println!(
            "| {backend} | {batches} × {PER_BATCH} | {:.1} ms | {:.1} ms | {:.0} | {:.0} |",
            p(0.5).as_secs_f64() * 1e3,
            p(0.9).as_secs_f64() * 1e3,
            us_per_part(p(0.5)),
            us_per_part(mean),
        );
    }
}
