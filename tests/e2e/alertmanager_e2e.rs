//! The real Prometheus Alertmanager (the Debian package `prometheus-alertmanager`, installed by
//! `scripts/test`) posts to the real gateway binary: the gateway serves in sandbox mode with a
//! `[hooks.prometheus]` hook, Alertmanager's webhook receiver points at it, an alert is posted
//! to Alertmanager's API v2, and the simulator's WeLink must receive the card with the firing
//! state (`告警中`/`firing`, orange).
//!
//! Without the binary this test FAILS (no silent skip): the point is to prove the gateway reads
//! what Alertmanager really sends, not the documentation's idea of it.
//!
//! Then the alert ends: Alertmanager sends the resolved notification and the same card turns
//! green through a WeLink state update, with no second card.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use notify_e2e::{serve, wait_ready, Caller, Gateway, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "alertmanager-e2e-secret";
const HOOK_TOKEN: &str = "alertmanager-e2e-hook-token";
/// The names the binary has in Debian (`prometheus-alertmanager`) and upstream (`alertmanager`).
const BINARIES: [&str; 2] = ["prometheus-alertmanager", "alertmanager"];

/// The Alertmanager binary on `PATH`; a loud failure when there is none.
fn alertmanager_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in BINARIES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "Alertmanager is not installed (looked for {BINARIES:?} on PATH): \
         `apt-get install prometheus-alertmanager` (scripts/test installs it when missing)"
    );
}

/// A running Alertmanager, killed when dropped.
struct Alertmanager {
    child: Child,
    base: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Starts Alertmanager in `dir` with one webhook receiver: the gateway's hook, with the
    /// hook's token as a bearer credential, groups sent after 1 s.
    fn start(dir: &Path, gateway_port: u16) -> Self {
        let port = free_port();
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                r#"route:
  receiver: gateway
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: gateway
    webhook_configs:
      - url: http://127.0.0.1:{gateway_port}/v1/hooks/prometheus
        send_resolved: true
        http_config:
          authorization:
            credentials: {HOOK_TOKEN}
"#
            ),
        )
        .unwrap();
        let child = Command::new(alertmanager_binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No cluster: no gossip port, no peers to wait for.
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start alertmanager");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Polls `/-/ready` (no event crosses the process boundary); fails after 30 s.
    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/-/ready", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Posts alerts to the API v2, as Prometheus does.
    async fn post(&self, http: &reqwest::Client, alerts: &Value) {
        let r = http
            .post(format!("{}/api/v2/alerts", self.base))
            .json(alerts)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "alertmanager refused: {}",
            r.status()
        );
    }

    /// Ends an alert (its `endsAt` in the past): Alertmanager then sends the resolved
    /// notification.
    async fn resolve(&self, http: &reqwest::Client, labels: &Value) {
        let ended = chrono::Utc::now() - chrono::Duration::seconds(1);
        self.post(
            http,
            &json!([{"labels": labels, "endsAt": ended.to_rfc3339()}]),
        )
        .await;
    }
}

/// Starts the gateway in sandbox mode with the hook; returns it, its port and the simulator's
/// base URL (read from the start-up block).
async fn start_gateway(dir: &Path) -> (Gateway, u16, String) {
    let port = free_port();
    let caller = Caller {
        name: "e2e",
        access_key: "AK-E2E",
        secret: SECRET,
        scopes: &["send", "read", "admin"],
    };
    let config = notify_e2e::write_config(
        dir,
        port,
        &caller,
        "shutdown_grace = \"2s\"",
        &format!(
            r#"[sandbox]
enabled = true

[hooks.prometheus]
format = "alertmanager"
token = "{HOOK_TOKEN}"
tenant = "default"
targets = [{{ channel = "welink", users = ["oncall"] }}]
dedup_window = "1m"
"#
        ),
    );
    let mut gw = serve(&config, port, "warn", Sink::Piped);
    let stdout = gw.child.stdout.take().unwrap();
    // The start-up block names the simulator; the rest of stdout is drained so the gateway
    // never writes to a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("sandbox simulator: ") {
                let _ = tx.send(rest.split("/_sim/").next().unwrap_or_default().to_string());
            }
        }
    });
    let sim = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("a sandbox simulator line in the start-up block")
    })
    .await
    .unwrap();
    wait_ready(&format!("http://127.0.0.1:{port}")).await;
    (gw, port, sim)
}

/// The WeLink send calls the simulator received whose body mentions `needle`, polled until
/// there is one (the dispatcher's send crosses processes); fails after 60 s.
async fn welink_cards_with(http: &reqwest::Client, sim: &str, needle: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let calls: Value = http
            .get(format!("{sim}/_sim/calls?path_prefix=/api/messages/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found: Vec<Value> = calls["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["body"].to_string().contains(needle))
            .cloned()
            .collect();
        if !found.is_empty() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "no WeLink card mentioning {needle:?} reached the simulator: {calls}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_fires_a_welink_card_through_the_hook() {
    let dir = scratch_dir("alertmanager-e2e");
    let (_gw, port, sim) = start_gateway(&dir).await;
    let http = reqwest::Client::new();
    let am = Alertmanager::start(&dir, port);
    am.wait_ready(&http).await;

    let labels = json!({"alertname": "DiskFull", "instance": "db-3", "severity": "critical"});
    am.post(
        &http,
        &json!([{
            "labels": labels,
            "annotations": {"summary": "Disk almost full on db-3", "description": "/var at 97%"},
            "generatorURL": "http://prometheus.example.org:9090/graph"
        }]),
    )
    .await;

    let cards = welink_cards_with(&http, &sim, "DiskFull").await;
    assert_eq!(cards.len(), 1, "one card for one notification: {cards:?}");
    let body = &cards[0]["body"];
    let text = body.to_string();
    assert!(text.contains("[告警:1] DiskFull"), "{body}");
    assert!(text.contains("Disk almost full on db-3"), "{body}");
    assert!(text.contains("告警中") && text.contains("firing"), "{body}");
    assert_eq!(body["statusColor"], "3", "orange: {body}");

    // The alert ends: the resolved notification turns the same card green, and sends no
    // second card.
    am.resolve(&http, &labels).await;
    let updates = welink_cards_with(&http, &sim, "已恢复").await;
    assert_eq!(updates.len(), 1, "one state update: {updates:?}");
    let update = &updates[0];
    assert!(
        update["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/messages/v1/update"),
        "a state update, not a new card: {update}"
    );
    assert_eq!(update["body"]["statusColor"], "2", "green: {update}");
    assert!(
        update["body"]["messageStatus"]
            .to_string()
            .contains("resolved"),
        "{update}"
    );
    let cards = welink_cards_with(&http, &sim, "DiskFull").await;
    assert_eq!(cards.len(), 1, "still the one card: {cards:?}");

    // The gateway stored the hook's messages under one alert: the firing one and the resolve.
    let list: Value = http
        .get(format!("http://127.0.0.1:{port}/v1/messages"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["title"].as_str())
        .collect();
    assert_eq!(titles, ["[已恢复] DiskFull", "[告警:1] DiskFull"], "{list}");

    // Counted by hook and status, with its help text.
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"notify_hook_requests_total{hook="prometheus",status="200"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("# HELP notify_hook_requests_total"),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
