//! The harness's one error type.

use std::path::PathBuf;

/// What can go wrong while finding, building, starting or stopping the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `NOTIFY_GATEWAY_BIN` names no file.
    #[error("NOTIFY_GATEWAY_BIN={0} is not a file")]
    NoSuchBinary(PathBuf),
    /// The test's own executable gives no target folder to build into.
    #[error("cannot tell the target folder from {0}; set NOTIFY_GATEWAY_BIN")]
    NoTargetDir(PathBuf),
    /// `cargo build -p notify-gateway` failed (its output went to stderr).
    #[error("cargo build -p notify-gateway failed: {0}")]
    Build(String),
    /// The process could not be started.
    #[error("start {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The process exited before it answered `/readyz`.
    #[error("the gateway exited at start-up: {0}")]
    ExitedAtStartUp(std::process::ExitStatus),
    /// `/readyz` did not answer 2xx in time.
    #[error("the gateway at {0} did not become ready in 30 s")]
    NotReady(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error while doing `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}
