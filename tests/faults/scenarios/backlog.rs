//! Scenario 7: a backlog of 100,000 (short) or 1,000,000 (long) queued deliveries, inserted
//! set-based into the schema. The store's own claim (`Outbox::claim`, 32 parts as the dispatcher
//! asks) keeps p99 < 20 ms; a gateway started over the backlog keeps its memory flat; once the
//! backlog has drained, `VACUUM (ANALYZE)` leaves the claim fast, and its scans use the claim
//! indexes (EXPLAIN), never a sequential scan of `parts`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_core::SystemClock;
use notify_store::{Store, StoreOptions};
use serde_json::json;

use crate::harness::ProcReadings;
use crate::harness::{chans, free_port, percentile, Ctx, Env, GwSettings, Opts, Report, Res, CARD};

const CLAIM_P99_LIMIT_MS: f64 = 20.0;
const CLAIM_BATCH: i64 = 32;

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "backlog").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

/// The template message: one real message accepted by the gateway (upstream answering 48503,
/// so it stays queued), whose rows are copied `n` times.
struct Template {
    message: String,
    lane: String,
    tenant: String,
}

async fn columns(env: &Env, table: &str) -> Res<Vec<String>> {
    sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(&env.schema)
    .bind(table)
    .fetch_all(&env.pg)
    .await
    .ctx("columns")
}

/// `INSERT INTO t (cols) SELECT <cols with overrides> FROM t src, generate_series(from, to) g
/// WHERE src.<key> = template`: every column copied from the template row unless overridden,
/// so the copy follows whatever migrations added.
async fn copy_rows(
    env: &Env,
    table: &str,
    key: &str,
    template: &str,
    range: (i64, i64),
    overrides: &[(&str, String)],
) -> Res<u64> {
    let cols = columns(env, table).await?;
    let select: Vec<String> = cols
        .iter()
        .map(|c| {
            overrides
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| format!("src.{c}"))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {t} ({cols}) SELECT {sel} FROM {t} src, generate_series({a}, {b}) g \
         WHERE src.{key} = $1",
        t = env.t(table),
        cols = cols.join(", "),
        sel = select.join(", "),
        a = range.0,
        b = range.1,
    );
    Ok(sqlx::query(&sql)
        .bind(template)
        .execute(&env.pg)
        .await
        .ctx(&format!("copy {table}"))?
        .rows_affected())
}

/// Inserts messages, deliveries and parts numbered `range` as copies of the template, queued
/// and due now (oldest first).
async fn insert_backlog(env: &Env, t: &Template, range: (i64, i64), prefix: &str) -> Res<()> {
    let now = crate::harness::now_ms();
    copy_rows(
        env,
        "messages",
        "id",
        &t.message,
        range,
        &[
            ("id", format!("'{prefix}m' || g")),
            ("idempotency_key", "NULL".into()),
            ("status", "'accepted'".into()),
        ],
    )
    .await?;
    let delivery: String = sqlx::query_scalar(&format!(
        "SELECT id FROM {} WHERE message_id = $1",
        env.t("deliveries")
    ))
    .bind(&t.message)
    .fetch_one(&env.pg)
    .await
    .ctx("template delivery")?;
    copy_rows(
        env,
        "deliveries",
        "id",
        &delivery,
        range,
        &[
            ("id", format!("'{prefix}d' || g")),
            ("message_id", format!("'{prefix}m' || g")),
            ("status", "'queued'".into()),
        ],
    )
    .await?;
    let part: String = sqlx::query_scalar(&format!(
        "SELECT id FROM {} WHERE delivery_id = $1",
        env.t("parts")
    ))
    .bind(&delivery)
    .fetch_one(&env.pg)
    .await
    .ctx("template part")?;
    copy_rows(
        env,
        "parts",
        "id",
        &part,
        range,
        &[
            ("id", format!("'{prefix}p' || g")),
            ("delivery_id", format!("'{prefix}d' || g")),
            ("message_id", format!("'{prefix}m' || g")),
            ("status", "'queued'".into()),
            ("attempts", "0".into()),
            ("lease_owner", "NULL".into()),
            ("lease_token", "NULL".into()),
            ("lease_until", "NULL".into()),
            ("possible_duplicate", "0".into()),
            ("next_attempt_at", format!("{now} - 10000000 + g")),
        ],
    )
    .await?;
    Ok(())
}

/// Times `n` claims of the store (ms each).
async fn time_claims(store: &Store, lane: &str, n: usize) -> Res<(Vec<f64>, usize)> {
    let mut ms = Vec::with_capacity(n);
    let mut claimed = 0;
    for _ in 0..n {
        let t = Instant::now();
        let parts = store
            .outbox()
            .claim(lane, "faults-bench", CLAIM_BATCH, 600_000)
            .await
            .ctx("claim")?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        claimed += parts.len();
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    Ok((ms, claimed))
}

async fn explain(env: &Env, sql: &str, t: &Template) -> Res<String> {
    let mut tx = env.pg.begin().await.ctx("explain tx")?;
    sqlx::query(&format!("SET LOCAL search_path TO {}", env.schema))
        .execute(&mut *tx)
        .await
        .ctx("search_path")?;
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .bind(&t.lane)
        .bind(&t.tenant)
        .bind(crate::harness::now_ms())
        .fetch_all(&mut *tx)
        .await
        .ctx("explain")?;
    tx.rollback().await.ctx("explain rollback")?;
    Ok(rows.join(" | "))
}

/// The per-tenant scan of the claim (`Outbox::claim` on Postgres runs one per tenant with work in
/// the lane, inside a LATERAL join).
const PER_TENANT: &str = "SELECT id FROM parts WHERE lane = $1 AND tenant = $2 AND status = 'queued' \
     AND next_attempt_at <= $3 ORDER BY priority, next_attempt_at, id LIMIT 32 FOR UPDATE SKIP LOCKED";

/// The claim index a plan scans (`parts_claim...`), if any.
fn index_used(plan: &str) -> Option<String> {
    plan.split_whitespace()
        .find(|w| w.starts_with("parts_claim"))
        .map(str::to_string)
}

/// What a plan scans instead.
fn other_index(plan: &str) -> String {
    let words: Vec<&str> = plan.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "using")
        .map(|w| w[1].to_string())
        .unwrap_or_else(|| "seq_scan".into())
}

async fn body(env: &Env) -> Res<Report> {
    let n: i64 = env.opts.pick(100_000, 1_000_000);
    let claims = env.opts.pick(300, 1000);
    let lanes = chans(1, false);
    let mut rep = Report::default();

    // 1. The template: one message accepted while upstream refuses everything with 48503.
    env.fault(json!({"path": CARD, "kind": "code", "code": "48503"}))
        .await?;
    let port = free_port()?;
    let cfg = env.config(port, &lanes, &GwSettings::default())?;
    let mut gw = env.start(&cfg, port, &[]).await?;
    let posted = env.post(port, &[("wl0", "backlog@welink")], None).await?;
    gw.kill9();
    let message = posted.id.ok_or("template message refused")?;
    let (lane, tenant): (String, String) = sqlx::query_as(&format!(
        "SELECT lane, tenant FROM {} WHERE message_id = $1",
        env.t("parts")
    ))
    .bind(&message)
    .fetch_one(&env.pg)
    .await
    .ctx("template part")?;
    let t = Template {
        message,
        lane,
        tenant,
    };

    // 2. The backlog, set-based, then what autovacuum would do after a bulk load.
    let t0 = Instant::now();
    let chunk = 100_000;
    let mut from = 1;
    while from <= n {
        let to = (from + chunk - 1).min(n);
        insert_backlog(env, &t, (from, to), "bk").await?;
        from = to + 1;
    }
    sqlx::query(&format!("ANALYZE {}", env.t("parts")))
        .execute(&env.pg)
        .await
        .ctx("analyze")?;
    rep.fig("queued", n);
    rep.fig("insert_s", format!("{:.1}", t0.elapsed().as_secs_f64()));

    // 3. The store's claim over the full backlog.
    let mut so = StoreOptions::new(env.opts.pg_url.clone());
    so.schema = Some(env.schema.clone());
    so.max_connections = 2;
    let store = Store::connect(&so, Arc::new(SystemClock))
        .await
        .ctx("store")?;
    let (ms, claimed) = time_claims(&store, &t.lane, claims).await?;
    let (p50, p99) = (percentile(&ms, 50.0), percentile(&ms, 99.0));
    rep.fig("claim_p50_ms", format!("{p50:.2}"));
    rep.fig("claim_p99_ms", format!("{p99:.2}"));
    rep.check(claimed == claims * CLAIM_BATCH as usize, || {
        format!(
            "claims took {claimed} parts, expected {}",
            claims * CLAIM_BATCH as usize
        )
    });
    rep.check(p99 < CLAIM_P99_LIMIT_MS, || {
        format!("claim p99 {p99:.1} ms over the backlog")
    });

    let at_backlog = explain(env, PER_TENANT, &t).await?;
    rep.fig(
        "explain_at_backlog",
        index_used(&at_backlog).unwrap_or("none".into()),
    );
    rep.check(index_used(&at_backlog).is_some(), || {
        format!("over the backlog the claim's scan does not use a claim index: {at_backlog}")
    });

    // 4. A gateway over the backlog: memory flat while it works.
    env.clear_faults().await?;
    let port = free_port()?;
    let cfg = env.config(port, &lanes, &GwSettings::default())?;
    let gw = env.start(&cfg, port, &[]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss0 = gw.rss_kb();
    tokio::time::sleep(Duration::from_secs(env.opts.pick(10, 60))).await;
    let rss1 = gw.rss_kb();
    drop(gw);
    rep.fig(
        "gateway_rss_mb",
        format!("{}->{}", rss0 / 1024, rss1 / 1024),
    );
    rep.check(rss1 <= rss0 + rss0 / 10 + 8 * 1024, || {
        format!("gateway RSS grew {} -> {} KiB over the backlog", rss0, rss1)
    });

    // 5. The backlog drains (set-based), the claim over the emptied lane, then VACUUM.
    sqlx::query(&format!(
        "UPDATE {} SET status = 'done', lease_owner = NULL, lease_token = NULL, lease_until = NULL \
         WHERE status IN ('queued', 'sending')",
        env.t("parts")
    ))
    .execute(&env.pg)
    .await
    .ctx("drain")?;
    let (ms, _) = time_claims(&store, &t.lane, 50).await?;
    rep.fig(
        "empty_claim_p99_before_vacuum_ms",
        format!("{:.2}", percentile(&ms, 99.0)),
    );
    let tv = Instant::now();
    sqlx::query(&format!("VACUUM (ANALYZE) {}", env.t("parts")))
        .execute(&env.pg)
        .await
        .ctx("vacuum")?;
    rep.fig("vacuum_s", format!("{:.1}", tv.elapsed().as_secs_f64()));
    insert_backlog(env, &t, (1, 1000), "after").await?;
    let (ms, claimed) = time_claims(&store, &t.lane, 30).await?;
    let p99_after = percentile(&ms, 99.0);
    rep.fig("claim_p99_after_vacuum_ms", format!("{p99_after:.2}"));
    rep.check(claimed == 960, || {
        format!("after vacuum the claims took {claimed}")
    });
    rep.check(p99_after < CLAIM_P99_LIMIT_MS, || {
        format!("claim p99 {p99_after:.1} ms after the drain and VACUUM")
    });

    // 6. After the VACUUM the claim's scan still uses a claim index...
    let after = explain(env, PER_TENANT, &t).await?;
    rep.fig(
        "explain_after_vacuum",
        index_used(&after).unwrap_or_else(|| other_index(&after)),
    );
    rep.check(index_used(&after).is_some(), || {
        format!("after the drain and VACUUM the claim's scan does not use a claim index: {after}")
    });
    // ...and stays fast when a new backlog arrives before autovacuum analyzes the table again.
    let regrow = n / 2;
    insert_backlog(env, &t, (1001, 1000 + regrow), "after").await?;
    let (ms, _) = time_claims(&store, &t.lane, 30).await?;
    let p99_regrow = percentile(&ms, 99.0);
    rep.fig("regrown", regrow);
    rep.fig("claim_p99_regrown_ms", format!("{p99_regrow:.2}"));
    rep.check(p99_regrow < CLAIM_P99_LIMIT_MS, || {
        format!(
            "claim p99 {p99_regrow:.1} ms when {regrow} parts queue again after the VACUUM \
             (before the next ANALYZE)"
        )
    });
    store.close().await;
    Ok(rep)
}
