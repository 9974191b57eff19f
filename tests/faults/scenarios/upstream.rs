//! Scenario 4: upstream faults from the simulator — 2 s latency, timeouts, connection resets,
//! 5xx bursts and a `48503` storm. No attempt is spent on a rate-limit answer, the gateway's
//! file descriptors (but for database connections, up to the pools' cap) and threads do not
//! grow, nothing is lost, and the lane is back at full speed within 10 s of the storm's end.

use std::time::{Duration, Instant};

use notify_store::StoreOptions;
use serde_json::json;

use crate::harness::ProcReadings;
use crate::harness::{
    chans, deliveries_per_user, free_port, now_ms, Ctx, Env, GwSettings, Opts, Report, Res, CARD,
};

/// Full speed must be back this soon after the storm (ms).
const RECOVERY_LIMIT_MS: i64 = 10_000;
/// Window over which "full speed" is measured (ms).
const SPEED_WINDOW_MS: i64 = 2_000;

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "upstream").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

fn users(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| ("wl0".to_string(), format!("{prefix}{i}@welink")))
        .collect()
}

/// Accepted card calls per `SPEED_WINDOW_MS` starting at each accepted call at or after
/// `from_ms`: the first window reaching `target` calls, as (window end − from_ms).
fn first_full_window(at: &[i64], from_ms: i64, target: usize) -> Option<i64> {
    let xs: Vec<i64> = at.iter().copied().filter(|t| *t >= from_ms).collect();
    for (i, t) in xs.iter().enumerate() {
        let n = xs[i..]
            .iter()
            .take_while(|u| **u < t + SPEED_WINDOW_MS)
            .count();
        if n >= target {
            return Some(t + SPEED_WINDOW_MS - from_ms);
        }
    }
    None
}

fn accepted_times(env: &Env) -> Vec<i64> {
    let mut v: Vec<i64> = env
        .card_calls()
        .iter()
        .filter(|c| c.answer["code"].as_str() == Some("0"))
        .map(|c| c.at_ms)
        .collect();
    v.sort_unstable();
    v
}

async fn body(env: &Env) -> Res<Report> {
    let opts = &env.opts;
    let storm = Duration::from_secs(opts.pick(8, 30));
    let lanes = chans(1, false);
    let port = free_port()?;
    // The default part lease: with a lease shorter than a slow call, the sweeper re-sends calls
    // still in flight (scenario `lease_shorter_than_call`), which is not what this one measures.
    let settings = GwSettings {
        delivery_lease: "30s".into(),
        ..GwSettings::default()
    };
    let cfg = env.config(port, &lanes, &settings)?;
    let gw = env.start(&cfg, port, &[]).await?;
    let mut rep = Report::default();
    let mut all_users: Vec<String> = Vec::new();
    let mut post = |prefix: &str, n: usize| {
        let u = users(prefix, n);
        all_users.extend(u.iter().map(|(_, u)| u.clone()));
        u
    };

    // Baseline: warm up, measure the lane's full speed, then the process's resources.
    let warm = post("base", opts.pick(100, 600));
    let t0 = now_ms();
    env.post_many(port, &warm, 16).await?;
    if !env.wait_drained(Duration::from_secs(60)).await? {
        return Err("baseline did not drain".into());
    }
    let base: Vec<i64> = accepted_times(env)
        .into_iter()
        .filter(|t| *t >= t0)
        .collect();
    let base_rate = match (base.first(), base.last()) {
        (Some(a), Some(b)) if b > a => (base.len() - 1) as f64 * 1000.0 / (b - a) as f64,
        _ => 0.0,
    };
    let db_port = env.database_port()?;
    let (fds_before, threads_before, rss_before) = (gw.fds(db_port), gw.threads(), gw.rss_kb());

    // Latency, timeouts, resets, 5xx: each a burst, then drained.
    let phases: Vec<(&str, serde_json::Value, usize)> = vec![
        (
            "lat",
            json!({"path": CARD, "kind": "latency", "latency_ms": 2000}),
            40,
        ),
        (
            "tmo",
            json!({"path": CARD, "kind": "timeout", "count": 3}),
            10,
        ),
        (
            "rst",
            json!({"path": CARD, "kind": "reset", "count": 10}),
            30,
        ),
        (
            "5xx",
            json!({"path": CARD, "kind": "http_status", "http_status": 502, "count": 20}),
            30,
        ),
    ];
    for (name, spec, n) in phases {
        env.fault(spec).await?;
        let u = post(name, n);
        env.post_many(port, &u, 16).await?;
        let limit = Duration::from_secs(if name == "tmo" { 60 } else { 40 });
        if name == "lat" {
            // Let the latency bite, then lift it so the phase ends.
            tokio::time::sleep(Duration::from_secs(4)).await;
            env.clear_faults().await?;
        }
        if !env.wait_drained(limit).await? {
            return Err(format!(
                "phase {name} did not drain: {:?}",
                env.part_statuses().await?
            ));
        }
        env.clear_faults().await?;
    }

    // The storm: every card answered 48503 while a backlog waits.
    let storm_seq = env.sim.calls().last().map(|c| c.seq).unwrap_or(0);
    env.fault(json!({"path": CARD, "kind": "code", "code": "48503"}))
        .await?;
    let backlog = post("storm", opts.pick(300, 1500));
    env.post_many(port, &backlog, 16).await?;
    let storm_started = Instant::now();
    tokio::time::sleep(storm.saturating_sub(storm_started.elapsed())).await;
    env.clear_faults().await?;
    let storm_end = now_ms();
    let storm_calls = env
        .card_calls()
        .iter()
        .filter(|c| c.seq > storm_seq && c.answer["code"].as_str() == Some("48503"))
        .count();
    if !env.wait_drained(Duration::from_secs(120)).await? {
        return Err(format!(
            "storm backlog did not drain: {:?}",
            env.part_statuses().await?
        ));
    }
    let target = ((base_rate * SPEED_WINDOW_MS as f64 / 1000.0) * 0.9).floor() as usize;
    let recovery = first_full_window(&accepted_times(env), storm_end, target.max(1));

    // Rate-limit answers spend no attempt: a part's try counter never exceeds its calls that
    // were not answered with a rate-limit code.
    let spent: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {p} p WHERE p.attempts > \
           (SELECT count(*) FROM {a} a WHERE a.part_id = p.id AND a.outcome <> 'rate_limited')",
        p = env.t("parts"),
        a = env.t("attempts")
    ))
    .fetch_one(&env.pg)
    .await
    .ctx("storm attempts")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (fds_after, threads_after, rss_after) = (gw.fds(db_port), gw.threads(), gw.rss_kb());
    let per_user = deliveries_per_user(&env.card_calls());
    let lost = all_users
        .iter()
        .filter(|u| per_user.get(*u).copied().unwrap_or(0) == 0)
        .count();
    // No process died here, and no fault leaves an outcome unknown after delivering (latency
    // is shorter than the gateway's request timeout; timeouts and resets deliver nothing): a
    // second card to anyone is a duplicate the gateway made by itself.
    let dups: Vec<&String> = per_user
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(u, _)| u)
        .collect();

    rep.fig("base_calls_per_s", format!("{base_rate:.1}"));
    rep.fig("storm_s", storm.as_secs());
    rep.fig("storm_calls", storm_calls);
    rep.fig("attempts_spent_on_48503", spent);
    rep.fig(
        "full_speed_after_ms",
        recovery.map(|r| r.to_string()).unwrap_or("never".into()),
    );
    rep.fig("fds", format!("{fds_before}->{fds_after}"));
    rep.fig("threads", format!("{threads_before}->{threads_after}"));
    rep.fig(
        "rss_mb",
        format!("{}->{}", rss_before / 1024, rss_after / 1024),
    );
    rep.fig("lost", lost);
    rep.fig("duplicates", dups.len());
    rep.check(dups.is_empty(), || {
        format!(
            "{} users got a card twice without any crash, e.g. {:?}",
            dups.len(),
            dups.iter().take(3).collect::<Vec<_>>()
        )
    });
    rep.check(spent == 0, || format!("{spent} storm parts spent attempts"));
    rep.check(recovery.is_some_and(|r| r <= RECOVERY_LIMIT_MS), || {
        format!(
            "full speed ({target} calls per {SPEED_WINDOW_MS} ms) not back within {RECOVERY_LIMIT_MS} ms: {recovery:?}"
        )
    });
    // Database connections grow with load up to the pools' caps, which is not a leak; any
    // other descriptor (upstream connections above all) must not grow.
    let db_cap = StoreOptions {
        max_connections: settings.max_connections,
        ..StoreOptions::new(env.opts.pg_url.clone())
    }
    .postgres_connections_at_most() as usize;
    rep.check(fds_after.other <= fds_before.other + 4, || {
        format!(
            "file descriptors other than database connections grew {} -> {}",
            fds_before.other, fds_after.other
        )
    });
    rep.check(fds_after.database <= db_cap, || {
        format!(
            "{} database connections, more than the pools' cap of {db_cap}",
            fds_after.database
        )
    });
    rep.check(threads_after <= threads_before + 2, || {
        format!("threads grew {threads_before} -> {threads_after}")
    });
    rep.check(lost == 0, || format!("{lost} messages never delivered"));
    Ok(rep)
}
