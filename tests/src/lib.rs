//! The one harness for the end-to-end scenarios: find (or build, once) the `notify-gateway`
//! binary, write its configuration, start `serve`, `simulate` or any sub-command with it, await
//! its readiness, kill it (-9 or TERM) and start it again, read its log, and give each test a
//! fresh Postgres schema or SQLite file that is removed afterwards.
//!
//! The test targets (`e2e/`) and the fault suite (`faults/`) use it; see `tests/README.md`.

pub mod binary;
pub mod config;
mod error;
pub mod process;
pub mod ready;
pub mod scratch;

pub use binary::{gateway_bin, gateway_command};
pub use config::{postgres_database, write_config, write_replica_config, Caller};
pub use error::Error;
pub use process::{serve, start, Gateway, Launch, Sink};
pub use ready::{await_ready, await_some, get_message, wait_ready};
pub use scratch::{free_port, pg_url, scratch_dir, sqlite_url, PgSchema};
