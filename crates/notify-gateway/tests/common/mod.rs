//! What the tests that run the real binary share: the process guard and the wait for readiness
//! (ports, scratch folders and the Postgres URL come from notify-testkit). Each test binary uses its own part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `notify-gateway serve --config CONFIG` with `RUST_LOG` set, stderr inherited and stdout
/// as asked (null, or piped for a test that reads the log).
pub fn serve(config: &std::path::Path, rust_log: &str, stdout: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_notify-gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", rust_log)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// A gateway process, killed when dropped (also when a test fails), with the folder it owns
/// removed after it.
pub struct Gateway {
    pub child: Child,
    pub dir: Option<PathBuf>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Polls `GET {base}/readyz` until it answers 2xx (there is no event to wait for across a
/// process boundary); fails the test after 30 s.
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "gateway at {base} did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `notify-gateway serve --config CONFIG` (log level warn, stdout discarded) and waits
/// until it answers on 127.0.0.1:`port`.
pub async fn start(config: &std::path::Path, port: u16) -> Gateway {
    let gw = Gateway {
        child: serve(config, "warn", Stdio::null()),
        dir: None,
    };
    wait_ready(&format!("http://127.0.0.1:{port}")).await;
    gw
}

/// Polls `check` every 100 ms until it gives `Some` (across a process boundary there is no
/// event to await); fails the test after `secs`, naming `what`.
pub async fn await_some<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET {base}/v1/messages/{id}` as the caller with bearer `secret`, as JSON.
pub async fn get_message(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    id: &str,
) -> serde_json::Value {
    client
        .get(format!("{base}/v1/messages/{id}"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The caller a test configuration declares (tenant `default`).
pub struct Caller<'a> {
    pub name: &'a str,
    pub access_key: &'a str,
    pub secret: &'a str,
    pub scopes: &'a [&'a str],
}

/// Writes `dir/gateway.toml` and returns its path: the API on 127.0.0.1:`port`, SQLite in
/// `dir`, `caller`, then `server_extra` (more `[server]` keys, one per line) and `extra` (other
/// sections, e.g. `[sandbox]`, `[log]`, channels). The one configuration the tests that run
/// the binary start from, so each says only what it is about.
pub fn write_config(
    dir: &std::path::Path,
    port: u16,
    caller: &Caller,
    server_extra: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join("gateway.toml");
    let scopes = caller
        .scopes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
{server_extra}
[database]
url = "sqlite://{db}"

[[auth.clients]]
name = "{name}"
access_key = "{access_key}"
secret_key = "{secret}"
tenant = "default"
scopes = [{scopes}]

{extra}
"#,
        db = dir.join("notify.db").display(),
        name = caller.name,
        access_key = caller.access_key,
        secret = caller.secret,
    );
    std::fs::write(&path, text).unwrap();
    path
}
