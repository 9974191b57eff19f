//! Scenario 2: the gateway is killed while a request with an idempotency key is on its way in
//! (some trials between the commit and the answer); the caller retries with the same key on
//! the restarted gateway: exactly one message, and exactly one card upstream.

use std::time::Duration;

use crate::harness::{
    chans, deliveries_per_user, free_port, Ctx, Env, GwSettings, Opts, Report, Res,
};

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "idem").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

/// Trials whose kill is placed inside the commit-to-answer window by the binary's test hook.
const HOOKED_TRIALS: usize = 3;

async fn body(env: &Env) -> Res<Report> {
    let trials = env.opts.pick(24, 40);
    let lanes = chans(1, false);
    let settings = GwSettings::default();
    let mut rep = Report::default();
    let (mut committed_unanswered, mut not_committed, mut answered) = (0, 0, 0);
    let mut bad: Vec<String> = Vec::new();
    let mut users = Vec::new();
    let (mut lo_us, mut hi_us) = (0u64, 20_000u64);
    // While the trials kill gateways, upstream answers every card with 48503 (rate limited:
    // nothing delivered, no attempt spent), so the only copies that can arise are messages
    // stored twice; the last gateway then delivers with upstream healthy.
    env.fault(serde_json::json!({"path": crate::harness::CARD, "kind": "code", "code": "48503"}))
        .await?;

    for i in 0..trials {
        let port = free_port()?;
        let cfg = env.config(port, &lanes, &settings)?;
        // The first trials hold the answer 1.5 s after the commit (a test hook of the binary),
        // so their kill lands between the commit and the answer for sure; the others sweep a
        // kill across the real, millisecond-wide window.
        let hooked = i < HOOKED_TRIALS;
        let hook = [("NOTIFY_TEST_PAUSE_AFTER_COMMIT_MS", "1500".to_string())];
        let mut gw = env
            .start(&cfg, port, if hooked { &hook[..] } else { &[] })
            .await?;
        let key = format!("idem-{i}");
        let user = format!("idem{i}@welink");
        users.push(user.clone());
        // Send, then kill -9 after a delay swept across the commit window (0–6 ms).
        let http = env.http.clone();
        let body = crate::harness::message_body(&[("wl0", &user)], Some(&key));
        let send = tokio::spawn(async move {
            http.post(format!("http://127.0.0.1:{port}/v1/messages"))
                .bearer_auth(crate::harness::SECRET)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        // Narrow the bracket around the commit window: too early (nothing stored) moves its low
        // end later, too late (answered) its high end earlier; each kill lands somewhere in it.
        let span = hi_us.saturating_sub(lo_us) + 300;
        let delay_us = if hooked {
            700_000
        } else {
            lo_us + (i as u64 * 7_919) % span
        };
        tokio::time::sleep(Duration::from_micros(delay_us)).await;
        gw.kill9();
        let first = send.await.ctx("send task")?;
        let answered_first = matches!(first, Ok(s) if s < 300);

        // The caller retries with the same key. Whether the first request was committed is
        // read from the retry's answer (a replay or a new message), not from the table: a
        // COMMIT the dead process had already sent may still be finishing in Postgres.
        let port = free_port()?;
        let cfg = env.config(port, &lanes, &settings)?;
        let gw2 = env.start(&cfg, port, &[]).await?;
        let retry = env.post(port, &[("wl0", &user)], Some(&key)).await?;
        let replayed = retry.status == 200 && retry.replayed;
        match (answered_first, replayed) {
            (true, true) => {
                answered += 1;
                if !hooked {
                    hi_us = delay_us.max(lo_us + 50);
                }
            }
            (false, true) => committed_unanswered += 1,
            (false, false) if retry.status == 202 => {
                not_committed += 1;
                if !hooked {
                    lo_us = delay_us.min(hi_us.saturating_sub(50));
                }
            }
            _ => bad.push(format!(
                "trial {i}: first answered {first:?}, retry answered {} (replayed {})",
                retry.status, retry.replayed
            )),
        }
        let after: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE idempotency_key = $1",
            env.t("messages")
        ))
        .bind(&key)
        .fetch_one(&env.pg)
        .await
        .ctx("count by key")?;
        if after != 1 {
            bad.push(format!("trial {i}: {after} messages with the key"));
        }
        drop(gw2);
    }

    env.clear_faults().await?;
    let port = free_port()?;
    let cfg = env.config(port, &lanes, &settings)?;
    let _gw = env.start(&cfg, port, &[]).await?;
    let drained = env.wait_drained(Duration::from_secs(30)).await?;
    let per_user = deliveries_per_user(&env.card_calls());
    for u in &users {
        let n = per_user.get(u).copied().unwrap_or(0);
        if n != 1 {
            bad.push(format!("{u} got {n} cards"));
        }
    }
    rep.fig("trials", trials);
    rep.fig("committed_unanswered", committed_unanswered);
    rep.fig("not_committed", not_committed);
    rep.fig("answered_before_kill", answered);
    rep.fig("exactly_one", if bad.is_empty() { "yes" } else { "no" });
    rep.check(drained, || "not drained".into());
    rep.check(committed_unanswered > 0, || {
        "no kill landed between the commit and the answer: the scenario proved nothing".into()
    });
    rep.check(bad.is_empty(), || bad.join(", "));
    Ok(rep)
}
