//! Scenario 4b: a part lease (`delivery.lease`, 3 s) shorter than a slow upstream call (4 s,
//! well inside the gateway's 15 s request timeout), and no crash at all. Every card must still
//! go out exactly once: a live worker's call must not be re-sent by the sweeper because the
//! lease ran out while the call was on the wire (or while the part waited for its pace).

use std::time::Duration;

use serde_json::json;

use crate::harness::{
    chans, deliveries_per_user, free_port, Env, GwSettings, Opts, Report, Res, CARD,
};

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "shortlease").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

async fn body(env: &Env) -> Res<Report> {
    let lanes = chans(1, false);
    let settings = GwSettings {
        delivery_lease: "3s".into(),
        ..GwSettings::default()
    };
    let port = free_port()?;
    let cfg = env.config(port, &lanes, &settings)?;
    let _gw = env.start(&cfg, port, &[]).await?;
    env.fault(json!({"path": CARD, "kind": "latency", "latency_ms": 4000}))
        .await?;
    let n = 5;
    let users: Vec<(String, String)> = (0..n)
        .map(|i| ("wl0".to_string(), format!("sl{i}@welink")))
        .collect();
    let ids = env.post_many(port, &users, 5).await?;
    // Let the first calls (and any re-sends) reach upstream, then lift the latency.
    tokio::time::sleep(Duration::from_secs(9)).await;
    env.clear_faults().await?;
    let drained = env.wait_drained(Duration::from_secs(30)).await?;
    let per_user = deliveries_per_user(&env.card_calls());
    let dups: usize = per_user.values().map(|n| n.saturating_sub(1)).sum();
    let lost = ids
        .keys()
        .filter(|u| per_user.get(*u).copied().unwrap_or(0) == 0)
        .count();
    let swept: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE possible_duplicate = 1",
        env.t("parts")
    ))
    .fetch_one(&env.pg)
    .await
    .map_err(|e| format!("swept: {e}"))?;
    let mut rep = Report::default();
    rep.fig("lease_ms", 3000);
    rep.fig("call_ms", 4000);
    rep.fig("messages", n);
    rep.fig("duplicates", dups);
    rep.fig("rescued_while_in_flight", swept);
    rep.fig("lost", lost);
    rep.check(drained && lost == 0, || {
        format!("drained {drained}, lost {lost}")
    });
    rep.check(dups == 0, || {
        format!(
            "{dups} cards sent twice without any crash: the sweeper re-queued parts whose call \
             was still in flight ({swept} parts flagged possible_duplicate)"
        )
    });
    Ok(rep)
}
