//! Running the gateway: a [`Launch`] says how (sub-command, configuration, environment, where
//! its output goes), a [`Gateway`] is the running process, killed when dropped (also when a
//! test fails) and restartable with the same launch.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::binary::gateway_bin;
use crate::ready::poll_ready;
use crate::Error;

/// Where one of the process's output streams goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Discarded.
    Null,
    /// The test's own stream.
    Inherit,
    /// A pipe the test reads (`gateway.child.stdout.take()`); the test must drain it.
    Piped,
    /// Appended to this file (kept for looking into a failure).
    File(PathBuf),
}

impl Sink {
    fn stdio(&self) -> Result<Stdio, Error> {
        Ok(match self {
            Sink::Null => Stdio::null(),
            Sink::Inherit => Stdio::inherit(),
            Sink::Piped => Stdio::piped(),
            Sink::File(path) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(Error::io(format!("open {}", path.display())))?
                .into(),
        })
    }
}

/// How to start the gateway: `notify-gateway SUBCOMMAND --config CONFIG`, listening on
/// 127.0.0.1:`port` (the configuration says so; the port is where readiness is asked).
#[derive(Debug, Clone)]
pub struct Launch {
    bin: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    stdout: Sink,
    stderr: Sink,
    port: u16,
}

impl Launch {
    /// `serve --config CONFIG` with `RUST_LOG=warn`, stdout discarded, stderr inherited.
    pub fn serve(config: &Path, port: u16) -> Self {
        Self::subcommand("serve", config, port)
    }

    /// `simulate --config CONFIG`, as [`Launch::serve`].
    pub fn simulate(config: &Path, port: u16) -> Self {
        Self::subcommand("simulate", config, port)
    }

    /// `SUBCOMMAND --config CONFIG`, as [`Launch::serve`].
    pub fn subcommand(name: &str, config: &Path, port: u16) -> Self {
        Self {
            bin: None,
            args: vec![name.into(), "--config".into(), config.into()],
            env: vec![("RUST_LOG".into(), "warn".into())],
            env_remove: Vec::new(),
            stdout: Sink::Null,
            stderr: Sink::Inherit,
            port,
        }
    }

    /// Runs `bin` instead of [`gateway_bin`]'s binary.
    pub fn bin(mut self, bin: &Path) -> Self {
        self.bin = Some(bin.to_path_buf());
        self
    }

    /// Puts `args` before the sub-command (global options such as `--log-format`).
    pub fn global_args(mut self, args: &[&str]) -> Self {
        let rest = std::mem::take(&mut self.args);
        self.args = args.iter().map(OsString::from).chain(rest).collect();
        self
    }

    /// Sets `RUST_LOG`.
    pub fn rust_log(self, filter: &str) -> Self {
        self.env("RUST_LOG", filter)
    }

    /// Sets an environment variable of the process.
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable the test process has, so the gateway does not inherit it.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// Where stdout goes.
    pub fn stdout(mut self, sink: Sink) -> Self {
        self.stdout = sink;
        self
    }

    /// Where stderr goes.
    pub fn stderr(mut self, sink: Sink) -> Self {
        self.stderr = sink;
        self
    }

    fn spawn_child(&self) -> Result<Child, Error> {
        let bin = match &self.bin {
            Some(bin) => bin.clone(),
            None => gateway_bin().to_path_buf(),
        };
        let mut cmd = Command::new(&bin);
        cmd.args(&self.args)
            .stdout(self.stdout.stdio()?)
            .stderr(self.stderr.stdio()?);
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd.spawn().map_err(|source| Error::Spawn { bin, source })
    }

    /// Starts the process without waiting for it.
    pub fn spawn(&self) -> Result<Gateway, Error> {
        Ok(Gateway {
            child: self.spawn_child()?,
            port: self.port,
            dir: None,
            launch: self.clone(),
        })
    }

    /// Starts the process and waits until it is ready (see [`Gateway::await_ready`]).
    pub async fn start(&self, http: &reqwest::Client) -> Result<Gateway, Error> {
        let mut gateway = self.spawn()?;
        gateway.await_ready(http).await?;
        Ok(gateway)
    }
}

/// A running gateway process, killed when dropped, with the folder it owns (if any) removed
/// after it.
pub struct Gateway {
    /// The process (its piped streams can be taken).
    pub child: Child,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    /// A folder removed when the gateway is dropped.
    pub dir: Option<PathBuf>,
    launch: Launch,
}

impl Gateway {
    /// Removes `dir` when the gateway is dropped.
    pub fn owning(mut self, dir: PathBuf) -> Self {
        self.dir = Some(dir);
        self
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/readyz` answers 2xx; an error when the process exits first or after 30 s.
    pub async fn await_ready(&mut self, http: &reqwest::Client) -> Result<(), Error> {
        let base = self.base();
        let child = &mut self.child;
        poll_ready(http, &base, Duration::from_millis(25), || {
            child.try_wait().ok().flatten()
        })
        .await
    }

    /// SIGKILL (no drain, no release of leases) and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the graceful shutdown.
    pub fn term(&self) -> Result<(), Error> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(Error::io("kill -TERM"))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Io {
                what: format!("kill -TERM {}", self.pid()),
                source: std::io::Error::other(status.to_string()),
            })
        }
    }

    /// Waits up to `limit` for the process to exit (polled: a child's exit is not awaitable
    /// here without a reaper task); true when it did.
    pub async fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// kill -9, then the same launch again, ready.
    pub async fn restart(&mut self, http: &reqwest::Client) -> Result<(), Error> {
        self.kill9();
        self.child = self.launch.spawn_child()?;
        self.await_ready(http).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `notify-gateway serve --config CONFIG` with `RUST_LOG=rust_log`, stderr inherited and
/// stdout as asked, not waited for; fails the test if it cannot start.
pub fn serve(config: &Path, port: u16, rust_log: &str, stdout: Sink) -> Gateway {
    Launch::serve(config, port)
        .rust_log(rust_log)
        .stdout(stdout)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts `notify-gateway serve --config CONFIG` (log level warn, stdout discarded) and waits
/// until it answers on 127.0.0.1:`port`; fails the test otherwise.
pub async fn start(config: &Path, port: u16) -> Gateway {
    Launch::serve(config, port)
        .start(&reqwest::Client::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
