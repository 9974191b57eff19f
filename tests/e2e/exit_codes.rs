//! The binary's exit codes tell the kind of failure (sysexits(3)), and its one stderr line
//! names what to fix: a bad setting is 78 and no restart fixes it, an unreachable database is
//! 69 and a later start may pass, a listen address in use is 74, a remote gateway that says no
//! is 1.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use notify_testkit::{free_port, scratch_dir};

fn gateway(args: &[&str]) -> Output {
    notify_e2e::gateway_command()
        .args(args)
        .env_remove("NOTIFY__DATABASE__URL")
        .output()
        .expect("run notify-gateway")
}

fn write(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, toml).expect("write config");
    path
}

/// The exit code and the stderr text of a run.
fn outcome(o: &Output) -> (Option<i32>, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_misspelt_key_exits_78_and_names_it() {
    let dir = scratch_dir("exit-codes");
    let config = write(&dir, "bad.toml", "[delivery]\nmax_atempts = 3\n");
    let (code, stderr) = outcome(&gateway(&["migrate", "--config", config.to_str().unwrap()]));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("max_atempts"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_config_file_exits_78() {
    let (code, stderr) = outcome(&gateway(&[
        "migrate",
        "--config",
        "/nonexistent/notify-gateway.toml",
    ]));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("--config"), "{stderr}");
}

#[test]
fn an_unreachable_database_exits_69_and_names_database_url() {
    let dir = scratch_dir("exit-codes");
    // Nothing listens on a fresh ephemeral port: the connection is refused at once.
    let port = free_port();
    let config = write(
        &dir,
        "gw.toml",
        &format!("[database]\nurl = \"postgres://postgres@127.0.0.1:{port}/test\"\n"),
    );
    let (code, stderr) = outcome(&gateway(&["migrate", "--config", config.to_str().unwrap()]));
    assert_eq!(code, Some(69), "{stderr}");
    assert!(stderr.contains("database.url"), "{stderr}");
    // The cause, not the pool's "timed out".
    assert!(
        stderr.contains(&format!("connection refused to 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("timed out"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_listen_address_in_use_exits_74_and_names_server_listen() {
    let dir = scratch_dir("exit-codes");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let config = write(
        &dir,
        "gw.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[sandbox]\nenabled = false\n\
             [database]\nurl = \"sqlite://{}\"\n",
            dir.join("notify.db").display()
        ),
    );
    let (code, stderr) = outcome(&gateway(&["serve", "--config", config.to_str().unwrap()]));
    assert_eq!(code, Some(74), "{stderr}");
    assert!(stderr.contains("server.listen"), "{stderr}");
    drop(taken);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn send_with_a_malformed_target_exits_78_before_any_request() {
    // The URL points at a port nobody listens on: a request would fail differently (exit 1).
    let url = format!("http://127.0.0.1:{}", free_port());
    let (code, stderr) = outcome(&gateway(&[
        "send",
        "--url",
        &url,
        "--access-key",
        "AK",
        "--secret-key",
        "SK",
        "--title",
        "t",
        "--to",
        "no-colon-here",
    ]));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("--to"), "{stderr}");
}

#[test]
fn an_unreachable_gateway_exits_1() {
    let url = format!("http://127.0.0.1:{}/healthz", free_port());
    let (code, stderr) = outcome(&gateway(&["healthcheck", "--url", &url]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unhealthy"), "{stderr}");
}

#[test]
fn a_sandbox_demo_key_on_all_interfaces_exits_78_and_prints_no_key() {
    let dir = scratch_dir("exit-codes");
    // What the image's old default did: the sandbox, no callers, 0.0.0.0.
    let config = write(
        &dir,
        "gw.toml",
        &format!(
            "[server]\nlisten = \"0.0.0.0:{}\"\n[sandbox]\nenabled = true\n\
             [database]\nurl = \"sqlite://{}\"\n",
            free_port(),
            dir.join("notify.db").display()
        ),
    );
    let out = gateway(&["serve", "--config", config.to_str().unwrap()]);
    let (code, stderr) = outcome(&out);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("server.listen"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("demo caller"), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}
