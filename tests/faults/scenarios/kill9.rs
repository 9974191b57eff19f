//! Scenario 1: kill -9 mid-drain, again and again, during a load. Nothing accepted is lost;
//! a user gets a card twice only if the call reaching them was in flight (its outcome unknown)
//! at a kill; every part orphaned by a kill is sent again within one lease of its lease end.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    chans, delivered_users, deliveries_per_user, free_port, Ctx, Env, GwSettings, Opts, Report,
    Res, CARD,
};

/// The delivery lease the gateways run with (ms); orphans must be sent again within it after
/// their lease ends.
const LEASE_MS: i64 = 3_000;

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "kill9").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

struct Orphan {
    user: String,
    lease_until: i64,
    after_seq: u64,
}

async fn body(env: &Env) -> Res<Report> {
    let opts = &env.opts;
    let kills = opts.pick(5, 20);
    let total = opts.pick(500, 2000);
    let per_wave = total / kills;
    let lanes = chans(4, false);
    let settings = GwSettings::default();
    // Every card call takes 150 ms upstream, so each kill finds calls in flight.
    env.fault(json!({"path": CARD, "kind": "latency", "latency_ms": 150}))
        .await?;

    let mut rep = Report::default();
    let mut accepted: HashMap<String, String> = HashMap::new();
    let mut unknown_users: HashSet<String> = HashSet::new();
    let mut orphans_total = 0usize;
    let mut worst_resend_after_lease_ms = i64::MIN;
    let mut late: Vec<String> = Vec::new();

    let port = free_port()?;
    let cfg = env.config(port, &lanes, &settings)?;
    let mut gw = env.start(&cfg, port, &[]).await?;
    for wave in 0..kills {
        let port = gw.port;
        let users: Vec<(String, String)> = (wave * per_wave..(wave + 1) * per_wave)
            .map(|i| (format!("wl{}", i % lanes.len()), format!("k{i}@welink")))
            .collect();
        let seq_before = env.sim.calls().last().map(|c| c.seq).unwrap_or(0);
        accepted.extend(env.post_many(port, &users, 16).await?);
        // Wait until this wave's calls are flowing, then a little more (varied per wave).
        let deadline = Instant::now() + Duration::from_secs(20);
        while env
            .card_calls()
            .iter()
            .filter(|c| c.seq > seq_before)
            .count()
            < 5
        {
            if Instant::now() > deadline {
                return Err(format!("wave {wave}: no call reached the simulator"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50 + (wave as u64 * 137) % 400)).await;
        gw.kill9();
        let calls = env.card_calls();
        let last_seq = calls.last().map(|c| c.seq).unwrap_or(0);
        // The parts the dead process left `sending`: orphans. Those whose call the simulator
        // already took are the calls with an unknown outcome.
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT recipients, lease_until FROM {} WHERE status = 'sending'",
            env.t("parts")
        ))
        .fetch_all(&env.pg)
        .await
        .ctx("orphans")?;
        let reached: HashSet<String> = calls.iter().flat_map(delivered_users).collect();
        let mut orphans = Vec::new();
        for (recipients, lease_until) in rows {
            let list: Vec<String> = serde_json::from_str(&recipients).unwrap_or_default();
            for user in list {
                if reached.contains(&user) {
                    unknown_users.insert(user.clone());
                }
                orphans.push(Orphan {
                    user,
                    lease_until,
                    after_seq: last_seq,
                });
            }
        }
        orphans_total += orphans.len();

        // The next process must send every orphan again within a lease of its lease end.
        let port = free_port()?;
        let cfg = env.config(port, &lanes, &settings)?;
        let next = env.start(&cfg, port, &[]).await?;
        let wait_until =
            orphans.iter().map(|o| o.lease_until).max().unwrap_or(0) + LEASE_MS + 1_000;
        loop {
            let calls = env.card_calls();
            let mut resent_at: HashMap<String, i64> = HashMap::new();
            for c in calls.iter().filter(|c| c.seq > last_seq) {
                for u in delivered_users(c) {
                    resent_at.entry(u).or_insert(c.at_ms);
                }
            }
            let pending = orphans
                .iter()
                .filter(|o| !resent_at.contains_key(&o.user))
                .count();
            if pending == 0 || crate::harness::now_ms() > wait_until {
                for o in &orphans {
                    match resent_at.get(&o.user) {
                        Some(at) => {
                            let after = at - o.lease_until;
                            worst_resend_after_lease_ms = worst_resend_after_lease_ms.max(after);
                            if after > LEASE_MS {
                                late.push(format!("{} {}ms after its lease", o.user, after));
                            }
                        }
                        None => {
                            late.push(format!("{} not sent again (seq>{})", o.user, o.after_seq))
                        }
                    }
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        gw = next;
    }

    // The last process drains whatever is left, without faults.
    env.clear_faults().await?;
    let drained = env.wait_drained(Duration::from_secs(90)).await?;
    let ids: Vec<String> = accepted.values().cloned().collect();
    let statuses = env.message_statuses(&ids).await?;
    let per_user = deliveries_per_user(&env.card_calls());
    let lost = accepted
        .keys()
        .filter(|u| per_user.get(*u).copied().unwrap_or(0) == 0)
        .count();
    let duplicates: usize = per_user.values().map(|n| n.saturating_sub(1)).sum();
    let dup_outside: Vec<&String> = per_user
        .iter()
        .filter(|(u, n)| **n > 1 && !unknown_users.contains(*u))
        .map(|(u, _)| u)
        .collect();
    let sent = statuses.get("sent").copied().unwrap_or(0);

    rep.fig("kills", kills);
    rep.fig("messages", accepted.len());
    rep.fig("lost", lost);
    rep.fig("duplicates", duplicates);
    rep.fig("unknown_at_kill", unknown_users.len());
    rep.fig("orphans", orphans_total);
    rep.fig(
        "max_resend_after_lease_ms",
        if orphans_total > 0 {
            worst_resend_after_lease_ms
        } else {
            0
        },
    );
    rep.fig(
        "redelivered_within_lease",
        if late.is_empty() { "yes" } else { "no" },
    );
    rep.check(drained, || format!("not drained: {statuses:?}"));
    rep.check(lost == 0, || {
        format!("{lost} accepted messages never delivered")
    });
    rep.check(sent as usize == accepted.len(), || {
        format!("message statuses {statuses:?}")
    });
    rep.check(dup_outside.is_empty(), || {
        format!(
            "{} duplicates outside the unknown-at-kill calls, e.g. {:?}",
            dup_outside.len(),
            dup_outside.iter().take(3).collect::<Vec<_>>()
        )
    });
    rep.check(late.is_empty(), || {
        format!(
            "{} orphans not sent again within a lease: {:?}",
            late.len(),
            late.iter().take(3).collect::<Vec<_>>()
        )
    });
    rep.check(orphans_total > 0, || {
        "no kill found a part in flight: the scenario proved nothing".into()
    });
    Ok(rep)
}
