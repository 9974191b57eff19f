//! Where the `notify-gateway` binary is. It belongs to another package, so Cargo gives these
//! tests no `CARGO_BIN_EXE_notify-gateway`: the harness builds it itself, into the target
//! folder the test was built in, so that `cargo nextest run --workspace` needs no separate
//! build step and never runs a stale binary.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::Error;

/// Names a gateway binary to use as it is (nothing is built): a release build, another
/// checkout's, a container's.
pub const BIN_ENV: &str = "NOTIFY_GATEWAY_BIN";

/// The gateway binary for this test process, found or built on first use; fails the test
/// when there is none.
pub fn gateway_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(|| locate().map_err(|e| e.to_string())) {
        Ok(path) => path,
        Err(e) => panic!("no notify-gateway binary: {e}"),
    }
}

/// `notify-gateway` as a command with nothing set yet.
pub fn gateway_command() -> Command {
    Command::new(gateway_bin())
}

/// `NOTIFY_GATEWAY_BIN` when set; else `notify-gateway` beside this executable's target
/// folder, brought up to date by `cargo build` first.
pub fn locate() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os(BIN_ENV) {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(Error::NoSuchBinary(bin))
        };
    }
    let profile_dir = profile_dir()?;
    build_once(&profile_dir)?;
    Ok(profile_dir.join(format!("notify-gateway{}", std::env::consts::EXE_SUFFIX)))
}

/// The profile folder (`target/debug`, `target/release`, …) this executable was built into: a
/// test binary lives in its `deps/`, the fault suite in it.
fn profile_dir() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(Error::io("current_exe"))?;
    let mut dir = exe.parent().map(Path::to_path_buf);
    if dir.as_deref().and_then(Path::file_name) == Some("deps".as_ref()) {
        dir = dir.and_then(|d| d.parent().map(Path::to_path_buf));
    }
    dir.filter(|d| d.parent().is_some())
        .ok_or(Error::NoTargetDir(exe))
}

/// Runs `cargo build -p notify-gateway --bin notify-gateway` into `profile_dir`, unless this
/// nextest run already did. Holds a lock meanwhile, so that one test process builds while the
/// others wait, and none starts the binary while Cargo replaces it.
fn build_once(profile_dir: &Path) -> Result<(), Error> {
    let lock_path = profile_dir.join(".notify-e2e-gateway.lock");
    let lock =
        File::create(&lock_path).map_err(Error::io(format!("create {}", lock_path.display())))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| Error::Io {
        what: format!("lock {}", lock_path.display()),
        source: e.into(),
    })?;
    // Each test is its own process under nextest: one build per run (its id stamped here) is
    // enough, the rest of the run reads the stamp. Under `cargo test` each test binary builds
    // once (a no-op when nothing changed).
    let stamp = profile_dir.join(".notify-e2e-gateway.run");
    let run_id = std::env::var("NEXTEST_RUN_ID").ok();
    if let Some(id) = &run_id {
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == *id) {
            return Ok(());
        }
    }
    let status = cargo_build(profile_dir)
        .status()
        .map_err(Error::io("run cargo build"))?;
    if !status.success() {
        return Err(Error::Build(status.to_string()));
    }
    if let Some(id) = run_id {
        std::fs::write(&stamp, id).map_err(Error::io(format!("write {}", stamp.display())))?;
    }
    // The lock is released when `lock` is dropped.
    Ok(())
}

/// The build command for the profile `profile_dir` holds, in the workspace these tests belong
/// to, with the same target folder.
fn cargo_build(profile_dir: &Path) -> Command {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Cargo and nextest give a test process the variables of its own package
    // (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, ...). Build scripts such as ring's rerun when those
    // change, so handing them on would rebuild half the tree here and again in the next
    // ordinary build: the build sees the environment a shell would give it.
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(set_for_the_test_process) {
            cmd.env_remove(&key);
        }
    }
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "notify-gateway",
        "--bin",
        "notify-gateway",
    ])
    .arg("--manifest-path")
    .arg(workspace.join("Cargo.toml"));
    if let Some(target_dir) = profile_dir.parent() {
        cmd.arg("--target-dir").arg(target_dir);
    }
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
    }
    cmd
}

/// A variable Cargo or nextest sets for the test process itself, not one a user sets to
/// configure builds (those, such as CARGO_HOME, CARGO_TARGET_DIR or CARGO_PROFILE_*, are kept).
fn set_for_the_test_process(key: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "NEXTEST",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || key.starts_with("__NEXTEST") || key == "OUT_DIR"
}
