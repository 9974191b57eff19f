//! The sandbox (in-process simulator, demo caller, a media fetcher allowed to reach the
//! simulator's address) runs with the built-in defaults or when a configuration asks for it,
//! never merely because a real configuration does not mention it.

mod common;

use std::io::{Read, Write as _};
use std::process::Stdio;

use common::{serve, wait_ready, Gateway};
use notify_testkit::{free_port, scratch_dir};

/// Runs `serve` with a configuration holding a channel and a caller, plus `extra`; returns
/// what it printed on stdout until it was ready.
async fn start_up_lines(extra: &str) -> String {
    let dir = scratch_dir("sandbox-switch");
    let port = free_port();
    let config = dir.join("gateway.toml");
    let mut f = std::fs::File::create(&config).unwrap();
    write!(
        f,
        r#"
[server]
listen = "127.0.0.1:{port}"
[database]
url = "sqlite://{db}"
[[auth.clients]]
name = "ops"
access_key = "AK-OPS"
secret_key = "sk-sandbox-switch"
tenant = "default"
scopes = ["send", "read"]
[channels.ops_log]
kind = "log"
{extra}
"#,
        db = dir.join("notify.db").display()
    )
    .unwrap();
    let mut gw = Gateway {
        child: serve(&config, "warn", Stdio::piped()),
        dir: Some(dir),
    };
    wait_ready(&format!("http://127.0.0.1:{port}")).await;
    // The start-up lines are printed before the server answers; stop it and read them all.
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

#[tokio::test]
async fn a_real_config_without_a_sandbox_section_runs_no_simulator() {
    let out = start_up_lines("").await;
    assert!(!out.contains("sandbox simulator"), "{out}");
    assert!(!out.contains("demo caller"), "{out}");
}

#[tokio::test]
async fn the_sandbox_runs_when_asked_for() {
    let out = start_up_lines("[sandbox]\nenabled = true\n").await;
    assert!(
        out.lines()
            .any(|l| l.contains("sandbox simulator: http://127.0.0.1:")),
        "{out}"
    );
}
