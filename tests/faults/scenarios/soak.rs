//! Scenario 6: soak. Three replicas, three lanes (each its own egress group, so they spread),
//! offered five times the sustained lane cap (1500/min) for 30 s (short) or 30 min (long).
//! The simulator's sliding-window maxima stay within the caps, no `48503` is ever answered,
//! and the replicas' memory is flat over the second half.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::ProcReadings;
use crate::harness::{chans, free_port, Env, Gateway, GwSettings, Opts, Report, Res, CARD};

const CAP_1S: u64 = 40;
const CAP_60S: u64 = 1500;
const CAP_IP_20S: u64 = 3000;
/// Offered load per lane: five times the sustained cap of 1500/min.
const OFFERED_PER_LANE_PER_S: usize = 5 * 25;

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "soak").await?;
    let r = body(&env).await;
    env.finish().await;
    r
}

#[derive(Default)]
struct Maxima {
    lane_1s: u64,
    lane_60s: u64,
    ip_20s: u64,
    rate_limited: usize,
    accepted_calls: usize,
    last_seq: u64,
}

async fn sample(env: &Env, m: &mut Maxima) -> Res<()> {
    let stats = env.sim_stats().await?;
    for l in stats["welink_interfaces"].as_array().into_iter().flatten() {
        if l["interface"].as_str() == Some(CARD) {
            m.lane_1s = m.lane_1s.max(l["max_1s"].as_u64().unwrap_or(0));
            m.lane_60s = m.lane_60s.max(l["max_60s"].as_u64().unwrap_or(0));
        }
    }
    for ip in stats["welink_ips"].as_array().into_iter().flatten() {
        m.ip_20s = m.ip_20s.max(ip["max_20s"].as_u64().unwrap_or(0));
    }
    // The call log is a ring; count what is new since the last look.
    let calls = env.sim.calls();
    for c in calls.iter().filter(|c| c.seq > m.last_seq) {
        match c.answer["code"].as_str() {
            Some("48503") => m.rate_limited += 1,
            Some("0") if c.path == CARD => m.accepted_calls += 1,
            _ => {}
        }
    }
    m.last_seq = calls.last().map(|c| c.seq).unwrap_or(m.last_seq);
    Ok(())
}

async fn body(env: &Env) -> Res<Report> {
    let duration = Duration::from_secs(env.opts.pick(30, 30 * 60));
    let lanes = chans(3, true);
    let settings = GwSettings {
        delivery_lease: "30s".into(),
        lane_lease: "10s".into(),
        max_connections: 10,
        ..GwSettings::default()
    };
    let mut replicas: Vec<Gateway> = Vec::new();
    for _ in 0..3 {
        let port = free_port()?;
        let cfg = env.config(port, &lanes, &settings)?;
        replicas.push(env.start(&cfg, port, &[]).await?);
    }
    let ports: Vec<u16> = replicas.iter().map(|g| g.port).collect();
    let rss_start: Vec<u64> = replicas.iter().map(|g| g.rss_kb()).collect();

    // The load: every 100 ms, a tenth of a second's offered messages, each to all three lanes,
    // spread over the replicas.
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let refusals: Arc<std::sync::Mutex<HashMap<String, usize>>> = Arc::default();
    let loader = {
        let (stop, posted, refused, refusals) = (
            stop.clone(),
            posted.clone(),
            refused.clone(),
            refusals.clone(),
        );
        let http = env.http.clone();
        let names: Vec<String> = lanes.iter().map(|c| c.name.clone()).collect();
        tokio::spawn(async move {
            let per_tick = OFFERED_PER_LANE_PER_S / 10;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let mut batch = Vec::new();
                for _ in 0..per_tick {
                    let user = format!("s{i}@welink");
                    let targets: Vec<(&str, &str)> =
                        names.iter().map(|n| (n.as_str(), user.as_str())).collect();
                    let body = crate::harness::message_body(&targets, None);
                    let port = ports[i % ports.len()];
                    let http = http.clone();
                    batch.push(async move {
                        let r = http
                            .post(format!("http://127.0.0.1:{port}/v1/messages"))
                            .bearer_auth(crate::harness::SECRET)
                            .json(&body)
                            .send()
                            .await?;
                        let status = r.status().as_u16();
                        if status >= 500 {
                            let text = r.text().await.unwrap_or_default();
                            eprintln!("soak: ingress answered {status}: {text}");
                        }
                        Ok::<u16, reqwest::Error>(status)
                    });
                    i += 1;
                }
                for r in futures_util::future::join_all(batch).await {
                    match r {
                        Ok(202) => {
                            posted.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            let why = match other {
                                Ok(s) => s.to_string(),
                                Err(e) if e.is_timeout() => "timeout".into(),
                                Err(_) => "transport".into(),
                            };
                            if let Ok(mut m) = refusals.lock() {
                                *m.entry(why).or_default() += 1;
                            }
                        }
                    }
                }
            }
        })
    };

    let started = Instant::now();
    let mut m = Maxima::default();
    let mut rss_mid: Vec<u64> = Vec::new();
    let half = duration / 2;
    let step = Duration::from_secs(env.opts.pick(5, 60));
    while started.elapsed() < duration {
        tokio::time::sleep(step.min(duration.saturating_sub(started.elapsed()))).await;
        sample(env, &mut m).await?;
        if rss_mid.is_empty() && started.elapsed() >= half {
            rss_mid = replicas.iter().map(|g| g.rss_kb()).collect();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = loader.await;
    sample(env, &mut m).await?;
    let rss_end: Vec<u64> = replicas.iter().map(|g| g.rss_kb()).collect();
    let statuses = env.part_statuses().await?;
    let backlog: i64 = statuses.get("queued").copied().unwrap_or(0);
    // The sweeper re-queues a part within about a second of its lease's end; one still
    // `sending` 10 s after its lease ended means the sweep is not getting through.
    let stale: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE status = 'sending' AND lease_until < $1",
        env.t("parts")
    ))
    .bind(crate::harness::now_ms() - 10_000)
    .fetch_one(&env.pg)
    .await
    .map_err(|e| format!("stale leases: {e}"))?;
    let secs = started.elapsed().as_secs_f64();

    let mut rep = Report::default();
    let mb = |v: &[u64]| {
        v.iter()
            .map(|k| (k / 1024).to_string())
            .collect::<Vec<_>>()
            .join("/")
    };
    rep.fig("secs", format!("{secs:.0}"));
    rep.fig("messages", posted.load(Ordering::Relaxed));
    rep.fig("refused", refused.load(Ordering::Relaxed));
    if let Ok(m) = refusals.lock() {
        if !m.is_empty() {
            rep.fig("refused_by", format!("{m:?}").replace(' ', ""));
        }
    }
    rep.fig(
        "calls_per_lane_per_min",
        format!("{:.0}", m.accepted_calls as f64 / 3.0 / secs * 60.0),
    );
    rep.fig("backlog_at_end", backlog);
    rep.fig("stale_sending", stale);
    rep.fig("max_1s", m.lane_1s);
    rep.fig("max_60s", m.lane_60s);
    rep.fig("max_ip_20s", m.ip_20s);
    rep.fig("rate_limited_48503", m.rate_limited);
    rep.fig(
        "rss_mb",
        format!("{}->{}->{}", mb(&rss_start), mb(&rss_mid), mb(&rss_end)),
    );
    rep.check(stale == 0, || {
        format!("{stale} parts still sending more than 10 s after their lease ended")
    });
    rep.check(m.lane_1s <= CAP_1S, || {
        format!("a lane made {} calls in 1 s", m.lane_1s)
    });
    rep.check(m.lane_60s <= CAP_60S, || {
        format!("a lane made {} calls in 60 s", m.lane_60s)
    });
    rep.check(m.ip_20s <= CAP_IP_20S, || {
        format!("the IP made {} calls in 20 s", m.ip_20s)
    });
    rep.check(m.rate_limited == 0, || {
        format!("{} answers 48503", m.rate_limited)
    });
    rep.check(refused.load(Ordering::Relaxed) == 0, || {
        format!(
            "{} messages refused by ingress",
            refused.load(Ordering::Relaxed)
        )
    });
    rep.check(backlog > 0, || {
        "no backlog at the end: the load was not above the caps".into()
    });
    // Flat: over the second half no replica grows by more than 10 % + 8 MiB.
    let grew: HashMap<usize, (u64, u64)> = rss_mid
        .iter()
        .zip(&rss_end)
        .enumerate()
        .filter(|(_, (mid, end))| **end > **mid + **mid / 10 + 8 * 1024)
        .map(|(i, (mid, end))| (i, (*mid, *end)))
        .collect();
    rep.check(grew.is_empty(), || {
        format!("RSS grew over the second half (KiB): {grew:?}")
    });
    Ok(rep)
}
