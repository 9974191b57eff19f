//! The binary's one error type: what stopped a command, and the exit code that tells a script
//! or an orchestrator which kind of failure it was (sysexits(3) codes), so a bad setting — which
//! no restart fixes — can be told from a database that is not there yet.

use std::process::ExitCode;

use notify_store::StoreError;

/// Why a command of the binary stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A setting (file, `NOTIFY__…` environment or flag) is wrong; the text names it.
    #[error("config: {0}")]
    Config(String),
    /// A setting is wrong, as another crate's check found: its error stays the source.
    #[error("config: {0}")]
    Setting(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database could not be reached, read the time from, or migrated.
    #[error("{what}: {source}")]
    Database {
        /// The setting or step involved (`database.url`, `migrations`).
        what: &'static str,
        /// What the store said.
        source: StoreError,
    },
    /// A socket could not be bound, or a server stopped on an I/O error.
    #[error("{what}: {source}")]
    Io {
        /// The listener or server involved (`server.listen 0.0.0.0:8080`, `simulate`).
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A part of the gateway could not start (the metrics recorder).
    #[error("{0}")]
    Start(String),
    /// `send` or `healthcheck`: the gateway could not be reached or did not answer as asked.
    #[error("{0}")]
    Remote(String),
}

impl GatewayError {
    /// A store error at `what`; a bad `database.*` setting is a configuration error.
    pub fn store(what: &'static str, source: StoreError) -> Self {
        match source {
            StoreError::Config(message) => GatewayError::Config(message),
            source => GatewayError::Database { what, source },
        }
    }

    /// A setting refused by another crate's check (a channel, the dispatcher, the hooks).
    pub fn setting(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        GatewayError::Setting(Box::new(source))
    }

    /// An I/O error at `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        GatewayError::Io {
            what: what.into(),
            source,
        }
    }

    /// The process's exit code: 78 (`EX_CONFIG`) for a setting to fix, 69 (`EX_UNAVAILABLE`)
    /// for a database to wait for, 74 (`EX_IOERR`) for a socket, 70 (`EX_SOFTWARE`) for a part
    /// that would not start, 1 when a remote gateway said no.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            GatewayError::Config(_) | GatewayError::Setting(_) => 78,
            GatewayError::Database { .. } => 69,
            GatewayError::Io { .. } => 74,
            GatewayError::Start(_) => 70,
            GatewayError::Remote(_) => 1,
        })
    }
}
