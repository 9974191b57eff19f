//! What an on-call person greps for: with `log.format = "json"` every line the gateway writes
//! while handling a request carries that request's span (its `X-Request-Id`, and the message id
//! once the handler knows it), and every line written while a part is sent carries the
//! `execute` span with the message, delivery and part ids. The real binary serves the sandbox
//! over a fresh SQLite file; its stdout is read line by line as JSON.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify_e2e::{get_message, serve, wait_ready, write_config, Caller, Gateway, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "log-spans-secret";

/// Starts `serve` with JSON logs; its stdout lines arrive on the returned channel.
fn start() -> (Gateway, u16, mpsc::Receiver<String>) {
    let dir = scratch_dir("log-spans");
    let port = free_port();
    let caller = Caller {
        name: "ops",
        access_key: "AK-OPS",
        secret: SECRET,
        scopes: &["send", "read"],
    };
    let config = write_config(
        &dir,
        port,
        &caller,
        "shutdown_grace = \"2s\"",
        "[log]\nformat = \"json\"\n[sandbox]\nenabled = true",
    );
    // Per-call lines are debug; request lines come from tower-http at debug.
    let mut gw = serve(
        &config,
        port,
        "info,notify_dispatch=debug,notify_upstream=debug,tower_http=debug",
        Sink::Piped,
    )
    .owning(dir);
    let stdout = gw.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (gw, port, rx)
}

/// The spans of a JSON log line (outermost first).
fn spans(line: &Value) -> Vec<&Value> {
    line["spans"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_request_and_delivery_ids() {
    let (_gw, port, lines) = start();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    let client = reqwest::Client::new();

    let r = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth(SECRET)
        .header("x-request-id", "req-log-spans-1")
        .json(&json!({
            "title": "Disk almost full",
            "content": "db-3 /var at 95%",
            "targets": [{"channel": "welink", "users": ["zhangsan"]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(r.headers()["x-request-id"], "req-log-spans-1");
    let accepted: Value = r.json().await.unwrap();
    let message = accepted["id"].as_str().unwrap().to_string();
    let delivery = accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The delivery ends (the sandbox's simulator answers at once).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = get_message(&client, &base, SECRET, &message).await;
        if m["deliveries"][0]["status"] == "sent" {
            break;
        }
        assert!(Instant::now() < deadline, "not sent: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Both kinds of line are written before the status reads `sent`; read until both are seen.
    // The request span's lines: "started processing request" (before the handler knows the
    // message) and "finished processing request" (after it recorded the id).
    let mut request_lines: Vec<Value> = Vec::new();
    let mut call_line = None;
    let recorded = |lines: &[Value]| {
        lines.iter().any(|l| {
            spans(l)
                .iter()
                .any(|s| s["name"] == "http" && s["message"] == message.as_str())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !recorded(&request_lines) || call_line.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(text) = lines.recv_timeout(left) else {
            break;
        };
        let line: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {text}"));
        // Debug lines show upstream answers, token answers among them: never the token.
        assert!(
            !text.contains("access_token") || text.contains("***"),
            "a token in the log: {text}"
        );
        for span in spans(&line) {
            if span["name"] == "http" && span["request_id"] == "req-log-spans-1" {
                request_lines.push(line.clone());
            }
            if span["name"] == "execute"
                && span["message"] == message.as_str()
                && line["fields"]["message"] == "upstream outcome"
            {
                call_line.get_or_insert(line.clone());
            }
        }
    }

    let texts: Vec<&str> = request_lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(
        texts.contains(&"started processing request")
            && texts.contains(&"finished processing request"),
        "both request lines carry the request id: {texts:?}"
    );
    let finished = request_lines
        .iter()
        .find(|l| l["fields"]["message"] == "finished processing request")
        .unwrap();
    let http = spans(finished)
        .into_iter()
        .find(|s| s["name"] == "http")
        .cloned()
        .unwrap();
    assert_eq!(http["method"], "POST");
    assert_eq!(http["path"], "/v1/messages");
    assert_eq!(
        http["message"],
        message.as_str(),
        "the handler records the message id on the request span: {finished}"
    );

    let call_line = call_line.expect("a line inside the execute span");
    let execute = spans(&call_line)
        .into_iter()
        .find(|s| s["name"] == "execute")
        .cloned()
        .unwrap();
    assert_eq!(execute["delivery"], delivery.as_str());
    assert!(
        execute["part"].as_str().unwrap_or("").starts_with("prt_"),
        "{call_line}"
    );
    assert_eq!(execute["channel"], "welink");
    assert_eq!(execute["op"], "send");
    assert_eq!(call_line["fields"]["result"], "sent", "{call_line}");
}
