//! What the gateway writes when its output is not a terminal: no colour codes, `--log-format
//! json` lines that each parse as JSON, and the start-up block (address, simulator, sidebar,
//! demo key) in one place — the real binary over the sandbox, stdout and stderr piped.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::time::Duration;

use notify_e2e::{Gateway, Launch, Sink};
use notify_testkit::{free_port, scratch_dir};

/// The lines of `pipe`, as they come.
fn lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `serve` over the sandbox with both pipes captured and `extra` arguments.
fn start(extra: &[&str]) -> (Gateway, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let dir = scratch_dir("log-output");
    let config = dir.join("gateway.toml");
    let port = free_port();
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n[sandbox]\nenabled = true\n\
             [database]\nurl = \"sqlite://{}\"\n",
            port,
            dir.join("notify.db").display()
        ),
    )
    .unwrap();
    let mut gw = Launch::serve(&config, port)
        .global_args(extra)
        .rust_log("info")
        .env_remove("NO_COLOR")
        .env_remove("NOTIFY__LOG__FORMAT")
        .stdout(Sink::Piped)
        .stderr(Sink::Piped)
        .spawn()
        .unwrap()
        .owning(dir);
    let out = lines(gw.child.stdout.take().unwrap());
    let err = lines(gw.child.stderr.take().unwrap());
    (gw, out, err)
}

/// Lines of `rx` up to and including the first that contains `needle` (30 s at most).
fn until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(e) => panic!("no line with {needle:?} ({e:?}); got:\n{}", seen.join("\n")),
        }
    }
}

/// Everything left on `rx` once the process is gone.
fn rest(rx: &mpsc::Receiver<String>) -> Vec<String> {
    rx.iter().collect()
}

fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", lines.join("\n")))
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes_and_one_start_up_block() {
    let (gw, out, err) = start(&[]);
    let mut stdout = until(&out, "http://127.0.0.1");
    stdout.extend(until(&out, "/v1/messages"));
    drop(gw);
    stdout.extend(rest(&out));
    let stderr = rest(&err);
    for line in stdout.iter().chain(&stderr) {
        assert!(!line.contains("\x1b["), "a colour code in {line:?}");
    }
    // The sidebar line comes with the rest of the block, after the address.
    let listening = position(&stdout, "notify-gateway listening on");
    let sidebar = position(&stdout, "Juzi sidebar:");
    let demo = position(&stdout, "demo caller:");
    assert!(
        listening < sidebar && sidebar < demo,
        "{}",
        stdout.join("\n")
    );
}

#[test]
fn log_format_json_writes_one_json_object_a_line() {
    let (gw, out, err) = start(&["--log-format", "json"]);
    let mut stdout = until(&out, "notify-gateway serving");
    let mut stderr = until(&err, "/v1/messages");
    drop(gw);
    stdout.extend(rest(&out));
    stderr.extend(rest(&err));
    for line in &stdout {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    for line in stdout.iter().chain(&stderr) {
        assert!(!line.contains("\x1b["), "a colour code in {line:?}");
    }
    // The lines for people went to stderr, in one block.
    let listening = position(&stderr, "notify-gateway listening on");
    let sidebar = position(&stderr, "Juzi sidebar:");
    assert!(listening < sidebar, "{}", stderr.join("\n"));
}
