//! `/metrics` after real traffic passes `promtool check metrics` (every metric has `# HELP`,
//! names and types follow Prometheus' rules), and with `server.metrics_listen` set the operator
//! routes are served there and no longer on the API port.
//!
//! promtool comes from the Debian package `prometheus`; this test fails, never skips, without it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use notify_e2e::{serve, wait_ready, Caller, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::json;

const SECRET: &str = "metrics-scrape-secret";

fn write_config(dir: &std::path::Path, port: u16, metrics_port: u16) -> std::path::PathBuf {
    let caller = Caller {
        name: "scrape",
        access_key: "AK-SCRAPE",
        secret: SECRET,
        scopes: &["send", "read", "admin"],
    };
    let server = format!("metrics_listen = \"127.0.0.1:{metrics_port}\"\nshutdown_grace = \"2s\"");
    notify_e2e::write_config(dir, port, &caller, &server, "[sandbox]\nenabled = true")
}

/// The metrics every scrape must show once the traffic below was handled: from the API, the
/// dispatcher's calls and the sweeper's database gauges.
const EXPECTED: &[&str] = &[
    "notify_http_requests_total",
    "notify_http_request_duration_seconds",
    "notify_messages_accepted_total",
    "notify_ingress_commit_batch_size",
    "notify_batch_size",
    "notify_part_results_total",
    "notify_upstream_call_seconds",
    "notify_token_fetches_total",
    "notify_queue_depth",
    "notify_deliveries",
    "notify_lane_calls_last_minute",
    "notify_lane_cap_per_minute",
    "notify_queue_oldest_due_seconds",
    "notify_quota_left_today",
    "notify_replicas_live",
    "notify_http_connections",
    "notify_http_inflight_body_bytes",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_after_traffic_passes_promtool_and_lives_on_metrics_listen() {
    let dir = scratch_dir("metrics-scrape");
    let (port, metrics_port) = (free_port(), free_port());
    let config = write_config(&dir, port, metrics_port);
    let _gw = serve(&config, port, "warn", Sink::Null).owning(dir);
    let base = format!("http://127.0.0.1:{port}");
    let metrics_base = format!("http://127.0.0.1:{metrics_port}");
    wait_ready(&base).await;
    let client = reqwest::Client::new();

    // Traffic: accepted messages to upstream channels (token fetches, calls), a batch, a refusal.
    for channel in ["welink", "wecom", "log"] {
        let r = client
            .post(format!("{base}/v1/messages"))
            .bearer_auth(SECRET)
            .json(&json!({"title": "disk", "content": "db-3 /var at 95%",
                "targets": [{"channel": channel, "users": ["zhangsan@welink"]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{channel}: {}", r.text().await.unwrap());
    }
    let r = client
        .post(format!("{base}/v1/messages/batch"))
        .bearer_auth(SECRET)
        .json(&json!({"messages": [{"title": "b", "content": "c",
            "targets": [{"channel": "log", "users": ["u"]}]}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth("not-a-key")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The operator routes moved: gone from the API port, served on metrics_listen.
    for path in ["/metrics", "/docs", "/openapi.json"] {
        let api = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(api.status(), 404, "{path} is still on the API port");
        let op = client
            .get(format!("{metrics_base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(op.status(), 200, "{path} on metrics_listen");
    }

    // The dispatcher and the sweeper report on their own schedule (no event crosses the
    // process boundary): poll the scrape until every expected metric is in it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let scrape = loop {
        let text = client
            .get(format!("{metrics_base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let missing: Vec<&&str> = EXPECTED
            .iter()
            .filter(|m| !text.contains(&format!("\n{m}")) && !text.starts_with(**m))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never appeared: {missing:?}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed by this test and cannot be run ({e}): install the Debian \
                 package `prometheus` (apt-get install prometheus) or put promtool on PATH"
            )
        });
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- scrape ---\n{scrape}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool passes metrics without HELP with a warning only in some versions: check it too.
    for line in scrape.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            scrape.contains(&format!("# HELP {name} ")),
            "{name} has no # HELP"
        );
    }
}
