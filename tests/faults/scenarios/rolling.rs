//! Scenario 5: a graceful rolling restart (SIGTERM) of two replicas while a backlog drains
//! over four lanes: no card twice, nothing lost, and no lane goes quiet for 2 s or more while
//! its owner hands it over.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::{
    chans, deliveries_per_user, free_port, Ctx, Env, Gateway, GwSettings, Opts, Report, Res,
};

/// The longest a busy lane may stay without a call across a hand-over (ms).
const HANDOVER_LIMIT_MS: i64 = 2_000;

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "rolling").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

async fn start(env: &Env, lanes: &[crate::harness::Chan], s: &GwSettings) -> Res<Gateway> {
    let port = free_port()?;
    let cfg = env.config(port, lanes, s)?;
    env.start(&cfg, port, &[]).await
}

/// Stops `gw` with SIGTERM and waits for it to exit; the exit time in ms.
async fn stop(gw: &mut Gateway) -> Res<u128> {
    let t = std::time::Instant::now();
    gw.term().ctx("kill -TERM")?;
    if !gw.wait_exit(Duration::from_secs(15)).await {
        return Err("a replica did not exit within 15 s of SIGTERM".into());
    }
    Ok(t.elapsed().as_millis())
}

async fn body(env: &Env) -> Res<Report> {
    let lanes = chans(4, true);
    let settings = GwSettings {
        delivery_lease: "10s".into(),
        ..GwSettings::default()
    };
    let n = env.opts.pick(2000, 6000);
    let mut a = start(env, &lanes, &settings).await?;
    let mut b = start(env, &lanes, &settings).await?;
    let users: Vec<(String, String)> = (0..n)
        .map(|i| (format!("wl{}", i % lanes.len()), format!("r{i}@welink")))
        .collect();
    let ids = env.post_many(b.port, &users, 16).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t_start = crate::harness::now_ms();

    // Roll A, then B.
    let a_exit = stop(&mut a).await?;
    let a2 = start(env, &lanes, &settings).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b_exit = stop(&mut b).await?;
    let _b2 = start(env, &lanes, &settings).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t_end = crate::harness::now_ms();
    let drained = env.wait_drained(Duration::from_secs(120)).await?;
    drop(a2);

    let calls = env.card_calls();
    // Largest gap between consecutive accepted calls of each lane during the roll (the lanes
    // still had a backlog then).
    let mut per_lane: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for c in &calls {
        if c.answer["code"].as_str() == Some("0") {
            if let Some(id) = &c.client_id {
                per_lane.entry(id.clone()).or_default().push(c.at_ms);
            }
        }
    }
    let mut worst_gap = 0i64;
    let mut busy_through_roll = true;
    for times in per_lane.values_mut() {
        times.sort_unstable();
        if times.last().copied().unwrap_or(0) < t_end {
            busy_through_roll = false;
        }
        for w in times.windows(2) {
            if w[1] >= t_start && w[0] <= t_end {
                worst_gap = worst_gap.max(w[1] - w[0]);
            }
        }
    }
    let per_user = deliveries_per_user(&calls);
    let duplicates: usize = per_user.values().map(|n| n.saturating_sub(1)).sum();
    let lost = ids
        .keys()
        .filter(|u| per_user.get(*u).copied().unwrap_or(0) == 0)
        .count();

    let mut rep = Report::default();
    rep.fig("messages", ids.len());
    rep.fig("lanes", per_lane.len());
    rep.fig("sigterm_exit_ms", format!("{a_exit}/{b_exit}"));
    rep.fig("max_lane_gap_ms", worst_gap);
    rep.fig("duplicates", duplicates);
    rep.fig("lost", lost);
    rep.check(drained, || "not drained".into());
    rep.check(busy_through_roll, || {
        "a lane ran out of backlog during the roll: the gap figure means nothing".into()
    });
    rep.check(duplicates == 0, || format!("{duplicates} duplicate cards"));
    rep.check(lost == 0, || format!("{lost} lost"));
    rep.check(worst_gap < HANDOVER_LIMIT_MS, || {
        format!("a lane was quiet {worst_gap} ms across a hand-over")
    });
    Ok(rep)
}
