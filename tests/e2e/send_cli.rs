//! `notify-gateway send --wait` against a running gateway: the real binary serves with the
//! sandbox (in-process simulator, sandbox channels) over a fresh SQLite file, and the same
//! binary's `send` signs with the config's caller key, posts, polls until the message is final
//! and prints the outcome. Then `/metrics` of that gateway shows the counters and gauges of
//! what just happened, and `/docs` is served.

use std::time::{Duration, Instant};

use notify_e2e::{serve, wait_ready, Caller, Gateway, Sink};
use notify_testkit::{free_port, scratch_dir};

use serde_json::Value;

const SECRET: &str = "send-cli-secret";

fn write_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let caller = Caller {
        name: "cli",
        access_key: "AK-CLI",
        secret: SECRET,
        scopes: &["send", "read", "admin"],
    };
    notify_e2e::write_config(
        dir,
        port,
        &caller,
        "shutdown_grace = \"2s\"",
        "[sandbox]\nenabled = true",
    )
}

async fn start() -> (Gateway, std::path::PathBuf, u16) {
    let dir = scratch_dir("send-cli");
    let port = free_port();
    let config = write_config(&dir, port);
    let gw = serve(&config, port, "warn", Sink::Null).owning(dir);
    wait_ready(&format!("http://127.0.0.1:{port}")).await;
    (gw, config, port)
}

/// Splits `send`'s output into the JSON documents it printed (the 202, then the outcome).
fn documents(stdout: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .map(|v| v.expect("send prints JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_wait_prints_the_delivered_outcome() {
    let (gw, config, port) = start().await;
    let url = format!("http://127.0.0.1:{port}");
    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        let url = url.clone();
        move || {
            notify_e2e::gateway_command()
                .args(["send", "--config"])
                .arg(&config)
                .args(["--url", &url])
                .args([
                    "--title",
                    "Disk almost full",
                    "--content",
                    "db-3 /var at 95%",
                ])
                .args(["--to", "welink:zhangsan", "--to", "wecom:lisi"])
                .args(["--idempotency-key", "cli-1", "--wait"])
                .env("RUST_LOG", "warn")
                .env_remove("NOTIFY_ACCESS_KEY")
                .env_remove("NOTIFY_SECRET_KEY")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "send failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&stdout);
    assert_eq!(docs.len(), 2, "the 202 and the outcome: {stdout}");
    let accepted = &docs[0];
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["idempotency_key"], "cli-1");
    let outcome = &docs[1];
    assert_eq!(outcome["id"], accepted["id"]);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    let deliveries = outcome["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    for d in deliveries {
        assert_eq!(d["status"], "sent", "{d}");
        assert_eq!(d["upstream_ids"].as_array().unwrap().len(), 1, "{d}");
    }

    // A bad target is refused with the gateway's 422, and send exits non-zero.
    let bad = notify_e2e::gateway_command()
        .args(["send", "--config"])
        .arg(&config)
        .args(["--url", &url, "--title", "t", "--to", "nochannel:x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown_channel"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // /metrics of the running gateway: what the send did is counted, and the sweeper's gauges
    // (refreshed every few seconds) appear.
    let client = reqwest::Client::new();
    let wanted = [
        "notify_messages_accepted_total",
        "notify_part_results_total{",
        "notify_upstream_call_seconds_bucket{",
        "notify_token_fetches_total{",
        "notify_queue_depth{",
        "notify_deliveries{",
        "notify_http_requests_total{",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = client
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if wanted.iter().all(|w| text.contains(w)) || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for w in wanted {
        assert!(text.contains(w), "{w} missing from /metrics:\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("notify_deliveries{")
            && l.contains("channel=\"welink\"")
            && l.contains("status=\"sent\"")
            && l.ends_with(" 1")),
        "{text}"
    );
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(
            line.starts_with("notify_"),
            "metric without the notify_ prefix: {line}"
        );
    }

    let docs = client.get(format!("{url}/docs")).send().await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(docs.text().await.unwrap().contains("openapi.json"));
    drop(gw);
}
