//! Scenario 8: one replica's clock off by ±2 minutes (`NOTIFY_CLOCK_OFFSET_MS`).
//!
//! Part 1 — signatures and caps: replica A on time, replica B +2 min (then −2 min), two busy
//! lanes. A request signed with the caller's true time is accepted by the skewed replica, its
//! replay is refused by the other (and the other way round); the lanes keep the sliding-window
//! caps, no `48503`, and no card goes out twice.
//!
//! Part 2 — the quota day: the simulator and replica A are placed 15 s before Asia/Shanghai
//! midnight (a common offset: only the *difference* is the skew), Xiaowei's daily quota is 5.
//! A spends the day's 5 calls; then B (2 min ahead, so already "tomorrow" by its clock) takes
//! over with 3 more messages. The upstream must never see a call over the quota of its day
//! (no `58604`), and the 3 go out once the real day has changed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use notify_core::clock::{shanghai_day, shanghai_day_start_ms};
use serde_json::{json, Value};

use crate::harness::{
    chans, deliveries_per_user, free_port, now_ms, signature, Chan, Ctx, Env, Gateway, GwSettings,
    Opts, Report, Res, ACCESS_KEY, CARD,
};

const SKEW_MS: i64 = 120_000;
const XIAOWEI: &str = "/api/athenaservice/v1/contextaware/push";

pub async fn run(opts: Opts) -> Res<Report> {
    let mut rep = Report::default();
    let env = Env::new(&opts, "skew").await?;
    let r = caps_and_signatures(&env, &mut rep).await;
    env.finish().await;
    r?;
    let env = Env::new(&opts, "skewq").await?;
    let r = quota_day(&env, &mut rep).await;
    env.finish().await;
    r?;
    Ok(rep)
}

async fn start(env: &Env, lanes: &[Chan], s: &GwSettings, offset_ms: i64) -> Res<Gateway> {
    let port = free_port()?;
    let cfg = env.config(port, lanes, s)?;
    env.start(
        &cfg,
        port,
        &[("NOTIFY_CLOCK_OFFSET_MS", offset_ms.to_string())],
    )
    .await
}

/// POSTs a signed message; the answer's status.
async fn signed_post(env: &Env, port: u16, body: &[u8], ts: &str) -> Res<u16> {
    let sig = signature(ts, "POST", "/v1/messages", body);
    let r = env
        .http
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .header("content-type", "application/json")
        .header("X-Access-Key", ACCESS_KEY)
        .header("X-Timestamp", ts)
        .header("X-Signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| format!("signed POST: {e}"))?;
    Ok(r.status().as_u16())
}

/// A signed request accepted by `first`, its replay refused by `second`.
async fn signature_pair(env: &Env, first: u16, second: u16, user: &str) -> Res<(u16, u16)> {
    let body = serde_json::to_vec(&crate::harness::message_body(&[("wl0", user)], None))
        .map_err(|e| e.to_string())?;
    let ts = now_ms().to_string();
    let a = signed_post(env, first, &body, &ts).await?;
    let b = signed_post(env, second, &body, &ts).await?;
    Ok((a, b))
}

async fn caps_and_signatures(env: &Env, rep: &mut Report) -> Res<()> {
    let lanes = chans(4, true);
    let settings = GwSettings {
        delivery_lease: "30s".into(),
        lane_lease: "10s".into(),
        ..GwSettings::default()
    };
    let per_phase = env.opts.pick(300, 3000);
    let run_for = Duration::from_secs(env.opts.pick(6, 60));
    let a = start(env, &lanes, &settings, 0).await?;
    let mut sig_bad = Vec::new();
    let mut users = Vec::new();
    for (phase, skew) in [("plus", SKEW_MS), ("minus", -SKEW_MS)] {
        let mut b = start(env, &lanes, &settings, skew).await?;
        let batch: Vec<(String, String)> = (0..per_phase)
            .map(|i| (format!("wl{}", i % 4), format!("sk{phase}{i}@welink")))
            .collect();
        let half = batch.len() / 2;
        env.post_many(a.port, &batch[..half], 16).await?;
        env.post_many(b.port, &batch[half..], 16).await?;
        users.extend(batch.into_iter().map(|(_, u)| u));
        for (first, second, who) in [
            (b.port, a.port, "skewed→on-time"),
            (a.port, b.port, "on-time→skewed"),
        ] {
            let user = format!("sig{phase}{first}@welink");
            let (x, y) = signature_pair(env, first, second, &user).await?;
            users.push(user);
            if x != 202 || y != 409 {
                sig_bad.push(format!("{phase} {who}: first {x}, replay {y}"));
            }
        }
        tokio::time::sleep(run_for / 2).await;
        // Who owns the lanes (replica ids carry the process id): the skew matters only when
        // both replicas send.
        let owners: Vec<Option<String>> =
            sqlx::query_scalar(&format!("SELECT owner FROM {}", env.t("lane_owners")))
                .fetch_all(&env.pg)
                .await
                .map_err(|e| format!("lane owners: {e}"))?;
        let tag = format!("replica-{}-", b.pid());
        let skewed = owners
            .iter()
            .filter(|o| o.as_deref().is_some_and(|o| o.starts_with(&tag)))
            .count();
        rep.fig(
            &format!("units_owned_by_skewed_{phase}"),
            format!("{skewed}/{}", owners.len()),
        );
        tokio::time::sleep(run_for / 2).await;
        b.term().ctx("kill -TERM")?;
        b.wait_exit(Duration::from_secs(15)).await;
    }
    let drained = env
        .wait_drained(Duration::from_secs(env.opts.pick(30, 180)))
        .await?;
    // Parts a skewed replica scheduled by its own clock: due more than a minute from now.
    let future: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE status = 'queued' AND next_attempt_at > $1",
        env.t("parts")
    ))
    .bind(now_ms() + 60_000)
    .fetch_one(&env.pg)
    .await
    .map_err(|e| format!("future parts: {e}"))?;
    let swept: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE possible_duplicate = 1",
        env.t("parts")
    ))
    .fetch_one(&env.pg)
    .await
    .map_err(|e| format!("swept parts: {e}"))?;
    let calls = env.card_calls();
    let per_user = deliveries_per_user(&calls);
    let dups: usize = per_user.values().map(|n| n.saturating_sub(1)).sum();
    let lost = users
        .iter()
        .filter(|u| per_user.get(*u).copied().unwrap_or(0) == 0)
        .count();
    let rate_limited = calls
        .iter()
        .filter(|c| c.answer["code"].as_str() == Some("48503"))
        .count();
    let stats = env.sim_stats().await?;
    let (mut max1, mut max60) = (0, 0);
    for l in stats["welink_interfaces"].as_array().into_iter().flatten() {
        if l["interface"].as_str() == Some(CARD) {
            max1 = max1.max(l["max_1s"].as_u64().unwrap_or(0));
            max60 = max60.max(l["max_60s"].as_u64().unwrap_or(0));
        }
    }
    drop(a);
    rep.fig("signatures", if sig_bad.is_empty() { "ok" } else { "bad" });
    rep.fig("max_1s", max1);
    rep.fig("max_60s", max60);
    rep.fig("rate_limited_48503", rate_limited);
    rep.fig("duplicates", dups);
    rep.fig("undelivered_after_drain_wait", lost);
    rep.fig("queued_due_over_60s_ahead", future);
    rep.fig("lease_rescued_live_parts", swept);
    rep.check(sig_bad.is_empty(), || {
        format!("signatures: {}", sig_bad.join(", "))
    });
    rep.check(max1 <= 40 && max60 <= 1500, || {
        format!("caps broken under skew: max_1s {max1}, max_60s {max60}")
    });
    rep.check(rate_limited == 0, || {
        format!("{rate_limited} answers 48503 under skew")
    });
    rep.check(dups == 0, || format!("{dups} duplicate cards under skew"));
    rep.check(drained && lost == 0, || {
        format!(
            "{lost} messages not delivered within the drain wait ({future} parts queued for \
             more than a minute ahead)"
        )
    });
    Ok(())
}

async fn quota_day(env: &Env, rep: &mut Report) -> Res<()> {
    let quota = 5;
    let now = now_ms();
    let midnight = shanghai_day_start_ms(shanghai_day(now) + 1);
    // The common offset: the system (simulator, replica A) 15 s before midnight.
    let base = midnight - 15_000 - now;
    let set = |path: &str, v: Value| {
        let http = env.http.clone();
        let url = format!("http://{}{path}", env.sim_addr);
        async move {
            http.post(url)
                .json(&v)
                .send()
                .await
                .map_err(|e| e.to_string())
                .map(|_| ())
        }
    };
    set("/_sim/clock", json!({"offset_ms": base})).await?;
    set("/_sim/caps", json!({"xiaowei_daily": quota})).await?;
    let settings = GwSettings {
        delivery_lease: "30s".into(),
        lane_lease: "10s".into(),
        extra_toml: format!(
            "[channels.xw]\nkind = \"xiaowei\"\nbase_url = \"http://{}/api\"\nclient_id = \"faults-xw\"\nclient_secret = \"s\"\ndaily_quota = {quota}\n",
            env.sim_addr
        ),
        ..GwSettings::default()
    };
    let post_xw = |port: u16, i: usize| {
        let user = format!("xw{i}");
        async move { env.post(port, &[("xw", &user)], None).await }
    };
    let xw_calls = || -> Vec<notify_simulator::RecordedCall> {
        env.sim
            .calls()
            .into_iter()
            .filter(|c| c.path == XIAOWEI)
            .collect()
    };

    // A, on the system's time, spends the day's quota.
    let mut a = start(env, &[], &settings, base).await?;
    for i in 0..quota {
        let p = post_xw(a.port, i).await?;
        if p.status != 202 {
            return Err(format!("xiaowei message refused: {}", p.status));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while xw_calls()
        .iter()
        .filter(|c| c.answer["code"].as_str() == Some("0"))
        .count()
        < quota
    {
        if Instant::now() > deadline {
            return Err(format!("A did not spend the quota: {:?}", xw_calls().len()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.term().ctx("kill -TERM")?;
    a.wait_exit(Duration::from_secs(15)).await;

    // B, two minutes ahead, takes over with 3 more before the real midnight.
    let b = start(env, &[], &settings, base + SKEW_MS).await?;
    let extra = 3;
    for i in quota..quota + extra {
        post_xw(b.port, i).await?;
    }
    // Wait until 10 s past the real midnight (simulator time) and the 3 are out, at most 30 s.
    let sim_now = || now_ms() + base;
    let deadline = midnight + 30_000;
    loop {
        let ok = xw_calls()
            .iter()
            .filter(|c| c.answer["code"].as_str() == Some("0"))
            .count();
        if (sim_now() > midnight + 10_000 && ok >= quota + extra) || sim_now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(b);
    let calls = xw_calls();
    let mut per_day: HashMap<i64, usize> = HashMap::new();
    for c in calls
        .iter()
        .filter(|c| c.answer["code"].as_str() == Some("0"))
    {
        *per_day.entry(shanghai_day(c.at_ms)).or_default() += 1;
    }
    let over = calls
        .iter()
        .filter(|c| c.answer["code"].as_str() == Some("58604"))
        .count();
    let sent: usize = per_day.values().sum();
    let day = shanghai_day(midnight - 1);
    rep.fig(
        "quota_day_calls",
        format!(
            "{}+{}",
            per_day.get(&day).copied().unwrap_or(0),
            per_day.get(&(day + 1)).copied().unwrap_or(0)
        ),
    );
    rep.fig("answered_58604", over);
    rep.fig("xiaowei_sent", format!("{sent}/{}", quota + extra));
    rep.check(per_day.values().all(|n| *n <= quota), || {
        format!("more than {quota} Xiaowei calls in a day: {per_day:?}")
    });
    rep.check(over == 0, || {
        format!(
            "{over} Xiaowei calls over the day's quota (58604): the skewed replica counted them \
             in its own (next) quota day"
        )
    });
    // The messages not sent yet must wait for the next quota day of the clock the gateway
    // counts days by — not longer. When that clock is the database's (unshifted), the next day
    // is the real next Asia/Shanghai midnight; when it is the replicas' shifted clocks, it is the
    // one just passed. Either way, nothing may be scheduled past the database's next midnight.
    let db_now: i64 =
        sqlx::query_scalar("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint")
            .fetch_one(&env.pg)
            .await
            .map_err(|e| format!("database clock: {e}"))?;
    let db_next_day = shanghai_day_start_ms(shanghai_day(db_now) + 1);
    let waiting: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT next_attempt_at FROM {} WHERE status = 'queued'",
        env.t("parts")
    ))
    .fetch_all(&env.pg)
    .await
    .map_err(|e| format!("waiting parts: {e}"))?;
    let too_late = waiting
        .iter()
        .filter(|t| **t > db_next_day.max(midnight) + 60_000)
        .count();
    rep.fig("xiaowei_waiting", waiting.len());
    rep.check(
        sent + waiting.len() == quota + extra && too_late == 0,
        || {
            format!(
                "{sent} of {} Xiaowei messages sent, {} waiting, {too_late} of them scheduled \
                 past the next quota day",
                quota + extra,
                waiting.len()
            )
        },
    );
    Ok(())
}
