//! Scenario 3: Postgres restarted (`-m fast`, then `-m immediate`) under ingress load. While it
//! is down ingress answers 503 with `Retry-After` (never 500, never a hang beyond the caller's
//! request timeout); it accepts again within 5 s of Postgres being back; nothing it accepted is
//! lost.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{chans, deliveries_per_user, free_port, Env, GwSettings, Opts, Report, Res};

/// The caller's request timeout: a request still unanswered then is a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Ingress must accept again this soon after Postgres is back.
const RECOVERY_LIMIT_MS: u128 = 5_000;

pub async fn run(opts: Opts) -> Res<Report> {
    let env = Env::new(&opts, "pgrestart").await?;
    let r = body(&env).await;
    // Whatever happened, leave Postgres running before touching it again.
    ensure_postgres_running(&opts);
    env.finish().await;
    r
}

#[derive(Debug, Clone)]
struct Sample {
    start: Instant,
    end: Instant,
    /// HTTP status, or 0 for a transport error / timeout.
    status: u16,
    retry_after: bool,
    user: String,
    error: Option<String>,
}

async fn body(env: &Env) -> Res<Report> {
    let lanes = chans(4, false);
    let settings = GwSettings::default();
    let port = free_port()?;
    let cfg = env.config(port, &lanes, &settings)?;
    let _gw = env.start(&cfg, port, &[]).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let counter = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let mut load = Vec::new();
    for _ in 0..8 {
        let (stop, samples, counter, client) = (
            stop.clone(),
            samples.clone(),
            counter.clone(),
            client.clone(),
        );
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let user = format!("pg{i}@welink");
                let body = crate::harness::message_body(&[(&format!("wl{}", i % 4), &user)], None);
                let start = Instant::now();
                let r = client
                    .post(format!("http://127.0.0.1:{port}/v1/messages"))
                    .bearer_auth(crate::harness::SECRET)
                    .json(&body)
                    .send()
                    .await;
                let s = match r {
                    Ok(r) => Sample {
                        start,
                        end: Instant::now(),
                        status: r.status().as_u16(),
                        retry_after: r.headers().get("retry-after").is_some(),
                        user,
                        error: None,
                    },
                    Err(e) => Sample {
                        start,
                        end: Instant::now(),
                        status: 0,
                        retry_after: false,
                        user,
                        error: Some(e.to_string()),
                    },
                };
                if let Ok(mut v) = samples.lock() {
                    v.push(s);
                }
                // 8 callers × 5/s = 40 messages/s, below the four lanes' 100/s, so the
                // backlog drains soon after the load stops.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }

    let mut rep = Report::default();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut recoveries = Vec::new();
    for mode in ["fast", "immediate"] {
        let before = Instant::now();
        let opts = env.opts.clone();
        let out = tokio::task::spawn_blocking(move || restart(mode, &opts))
            .await
            .map_err(|e| e.to_string())?;
        if let Err(e) = out {
            stop.store(true, Ordering::Relaxed);
            return Err(format!("pg restart -m {mode}: {e}"));
        }
        let up = Instant::now();
        // Recovery: the first request started after Postgres was back that was accepted.
        let deadline = up + Duration::from_secs(15);
        let recovered = loop {
            let first = samples.lock().ok().and_then(|v| {
                v.iter()
                    .filter(|s| s.start >= up && s.status == 202)
                    .map(|s| s.end)
                    .min()
            });
            if let Some(t) = first {
                break Some(t.duration_since(up).as_millis());
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let down_503 = samples
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|s| s.end >= before && s.status == 503)
                    .count()
            })
            .unwrap_or(0);
        rep.fig(
            &format!("{mode}_restart_ms"),
            up.duration_since(before).as_millis(),
        );
        rep.fig(&format!("{mode}_503"), down_503);
        match recovered {
            Some(ms) => {
                rep.fig(&format!("{mode}_recovered_ms"), ms);
                rep.check(ms <= RECOVERY_LIMIT_MS, || {
                    format!(
                        "-m {mode}: ingress accepted again only {ms} ms after Postgres was back"
                    )
                });
            }
            None => rep
                .failures
                .push(format!("-m {mode}: ingress never accepted again")),
        }
        recoveries.push(recovered);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for h in load {
        let _ = h.await;
    }

    let samples = samples.lock().map(|v| v.clone()).unwrap_or_default();
    let accepted: Vec<&Sample> = samples.iter().filter(|s| s.status == 202).collect();
    let s500 = samples
        .iter()
        .filter(|s| s.status >= 500 && s.status != 503)
        .count();
    let s503 = samples.iter().filter(|s| s.status == 503).count();
    let no_retry_after = samples
        .iter()
        .filter(|s| s.status == 503 && !s.retry_after)
        .count();
    let transport: Vec<&Sample> = samples.iter().filter(|s| s.status == 0).collect();
    let other = samples
        .iter()
        .filter(|s| !matches!(s.status, 0 | 202 | 503) && s.status < 500)
        .count();
    let slowest = samples
        .iter()
        .map(|s| s.end.duration_since(s.start).as_millis())
        .max()
        .unwrap_or(0);

    let drained = env.wait_drained(Duration::from_secs(60)).await?;
    let per_user = deliveries_per_user(&env.card_calls());
    let lost = accepted
        .iter()
        .filter(|s| per_user.get(&s.user).copied().unwrap_or(0) == 0)
        .count();

    rep.fig("requests", samples.len());
    rep.fig("accepted", accepted.len());
    rep.fig("answered_503", s503);
    rep.fig("answered_5xx_other", s500);
    rep.fig("hangs_or_resets", transport.len());
    rep.fig("slowest_ms", slowest);
    rep.fig("lost", lost);
    rep.check(s500 == 0, || format!("{s500} answers 5xx other than 503"));
    rep.check(no_retry_after == 0, || {
        format!("{no_retry_after} answers 503 without Retry-After")
    });
    rep.check(other == 0, || format!("{other} unexpected 4xx answers"));
    rep.check(transport.is_empty(), || {
        format!(
            "{} requests hung past {}s or failed in transport, e.g. {:?}",
            transport.len(),
            REQUEST_TIMEOUT.as_secs(),
            transport.first().and_then(|s| s.error.clone())
        )
    });
    rep.check(drained, || "not drained within 60 s".into());
    rep.check(lost == 0, || {
        format!("{lost} accepted messages never delivered")
    });
    Ok(rep)
}

fn clusters() -> Vec<String> {
    std::fs::read_dir("/etc/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Restarts the server behind `opts.pg_url` in `mode` and waits until it answers: with the
/// `pg_ctl` command given (a private cluster) if any, else every Debian cluster.
fn restart(mode: &str, opts: &Opts) -> Res<()> {
    match &opts.pg_ctl {
        Some(pg_ctl) => ctl_restart(pg_ctl, mode)?,
        None => clusters_restart(mode)?,
    }
    wait_ready(&opts.pg_url, Duration::from_secs(30))
}

fn clusters_restart(mode: &str) -> Res<()> {
    let versions = clusters();
    if versions.is_empty() {
        return Err("no cluster under /etc/postgresql".into());
    }
    for v in versions {
        let out = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &v,
                "main",
                "restart",
                "-m",
                mode,
            ])
            .output()
            .map_err(|e| format!("pg_ctlcluster: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctlcluster {v} main restart -m {mode}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// `pg_ctl restart -m mode -w`. The command sends the server's output to a log file (`-l`),
/// so the server holds none of our pipes and `output()` returns when `pg_ctl` does.
fn ctl_restart(pg_ctl: &Path, mode: &str) -> Res<()> {
    ctl(pg_ctl, &["restart", "-m", mode, "-w"])
}

fn ctl(pg_ctl: &Path, args: &[&str]) -> Res<()> {
    let out = Command::new(pg_ctl)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", pg_ctl.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {}: {}",
            pg_ctl.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Waits until the server of `pg_url` accepts connections (`pg_isready` takes the URL).
fn wait_ready(pg_url: &str, limit: Duration) -> Res<()> {
    let deadline = Instant::now() + limit;
    loop {
        let ok = Command::new("pg_isready")
            .args(["-q", "-d", pg_url])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("Postgres not ready".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the server behind `opts.pg_url` if it is not answering (after a failed restart).
pub fn ensure_postgres_running(opts: &Opts) {
    if wait_ready(&opts.pg_url, Duration::from_millis(200)).is_ok() {
        return;
    }
    match &opts.pg_ctl {
        Some(pg_ctl) => {
            let _ = ctl(pg_ctl, &["start", "-w"]);
        }
        None => {
            for v in clusters() {
                let _ = Command::new("pg_ctlcluster")
                    .args(["--skip-systemctl-redirect", &v, "main", "start"])
                    .status();
            }
        }
    }
    let _ = wait_ready(&opts.pg_url, Duration::from_secs(30));
}

#[cfg(test)]
mod tests {
    //! Only the `pg_ctl`-command path is exercised, with a stand-in script: nothing here
    //! restarts a real server.

    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;

    /// A stand-in `pg_ctl` that appends its arguments to `calls` and exits with `status`.
    fn fake_pg_ctl(name: &str, status: i32) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pg-ctl-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let calls = dir.join("calls");
        let _ = std::fs::remove_file(&calls);
        let script = dir.join("pg_ctl");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\necho 'refused by the stand-in' >&2\nexit {status}\n",
                calls.display()
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        (script, calls)
    }

    fn test_pg_url() -> String {
        std::env::var("NOTIFY_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// A URL on a loopback port where nothing listens.
    fn dead_pg_url() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        format!("postgres://postgres@127.0.0.1:{port}/test")
    }

    #[test]
    fn pg_ctl_restart_passes_the_mode_and_waits() {
        let (pg_ctl, calls) = fake_pg_ctl("restart", 0);
        ctl_restart(&pg_ctl, "immediate").expect("restart");
        let seen = std::fs::read_to_string(calls).expect("calls");
        assert_eq!(seen, "restart -m immediate -w\n");
    }

    #[test]
    fn pg_ctl_failure_names_the_command_and_its_error() {
        let (pg_ctl, _) = fake_pg_ctl("fails", 1);
        let e = ctl_restart(&pg_ctl, "fast").expect_err("must fail");
        assert!(e.contains("pg_ctl restart -m fast -w"), "{e}");
        assert!(e.contains("refused by the stand-in"), "{e}");
    }

    #[test]
    fn pg_ctl_readiness_is_checked_on_the_url_given() {
        assert!(wait_ready(&test_pg_url(), Duration::from_secs(5)).is_ok());
        assert!(wait_ready(&dead_pg_url(), Duration::from_millis(200)).is_err());
    }

    #[test]
    fn pg_ctl_is_not_run_when_the_server_answers() {
        let (pg_ctl, calls) = fake_pg_ctl("running", 0);
        let opts = Opts {
            bin: PathBuf::new(),
            pg_url: test_pg_url(),
            pg_ctl: Some(pg_ctl),
            long: false,
        };
        ensure_postgres_running(&opts);
        assert!(!calls.exists(), "pg_ctl was run for a server that answers");
    }
}
