//! The sandbox (in-process simulator, demo caller, a media fetcher allowed to reach the
//! simulator's address) runs with the built-in defaults or when a configuration asks for it,
//! never merely because a real configuration does not mention it; and while it runs, the
//! fetcher's exception is the simulator's address, not loopback at large.

use std::io::Read;
use std::time::{Duration, Instant};

use notify_e2e::{get_message, serve, wait_ready, write_config, Caller, Gateway, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::json;

const SECRET: &str = "sk-sandbox-switch";

/// Starts `serve` with a caller, plus `extra` (channels, `[sandbox]`); returns it once ready,
/// with its port.
async fn start(extra: &str) -> (Gateway, u16) {
    let dir = scratch_dir("sandbox-switch");
    let port = free_port();
    let caller = Caller {
        name: "ops",
        access_key: "AK-OPS",
        secret: SECRET,
        scopes: &["send", "read"],
    };
    let config = write_config(&dir, port, &caller, "", extra);
    let gw = serve(&config, port, "warn", Sink::Piped).owning(dir);
    wait_ready(&format!("http://127.0.0.1:{port}")).await;
    (gw, port)
}

/// Stops the gateway and returns what it printed on stdout (the start-up lines come before
/// it answers).
fn start_up_lines(mut gw: Gateway) -> String {
    let _ = gw.child.kill();
    let _ = gw.child.wait();
    let mut out = String::new();
    let mut stdout = gw.child.stdout.take().unwrap();
    stdout.read_to_string(&mut out).unwrap();
    assert!(
        out.lines().any(|l| l.contains("listening on")),
        "no start-up banner: {out}"
    );
    out
}

const LOG_CHANNEL: &str = "[channels.ops_log]\nkind = \"log\"\n";

#[tokio::test]
async fn a_real_config_without_a_sandbox_section_runs_no_simulator() {
    let (gw, _) = start(LOG_CHANNEL).await;
    let out = start_up_lines(gw);
    assert!(!out.contains("sandbox simulator"), "{out}");
    assert!(!out.contains("demo caller"), "{out}");
}

#[tokio::test]
async fn the_sandbox_runs_when_asked_for() {
    let (gw, _) = start(&format!("{LOG_CHANNEL}[sandbox]\nenabled = true\n")).await;
    let out = start_up_lines(gw);
    assert!(
        out.lines()
            .any(|l| l.contains("sandbox simulator: http://127.0.0.1:")),
        "{out}"
    );
}

/// With the sandbox on, a WeCom image whose URL is the gateway's own `/metrics` (plain http on
/// loopback, another port than the simulator's) is refused with the one fetch text.
#[tokio::test]
async fn the_sandbox_fetches_from_no_other_loopback_port() {
    let (_gw, port) = start("[sandbox]\nenabled = true\n").await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v1/messages"))
        .bearer_auth(SECRET)
        .json(&json!({"image_url": format!("{base}/metrics"),
            "targets": [{"channel": "wecom", "users": ["zhangsan"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Across a process boundary there is no event to await: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let m = loop {
        let m = get_message(&http, &base, SECRET, &id).await;
        if m["deliveries"][0]["status"] != "queued" && m["deliveries"][0]["status"] != "sending" {
            break m;
        }
        assert!(Instant::now() < deadline, "the delivery did not end: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let d = &m["deliveries"][0];
    assert_eq!(d["status"], "failed", "{m}");
    let error = d["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("the media URL could not be fetched"), "{m}");
    assert!(
        !error.contains(&port.to_string()),
        "the text names no port: {m}"
    );
}
