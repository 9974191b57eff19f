//! A store of its own for each test that runs the binary: a fresh Postgres schema, dropped
//! when dropped (also when the test fails), or a SQLite file in the test's scratch folder,
//! removed with the folder.

use std::path::Path;
use std::process::Command;

pub use notify_testkit::{free_port, pg_url, scratch_dir};

/// A schema name no other test uses in [`pg_url`]'s database; the gateway creates it when it
/// migrates, and dropping this drops it.
pub struct PgSchema {
    name: String,
}

impl PgSchema {
    /// A new name, `t_` and a lower-case ULID.
    pub fn new() -> Self {
        Self {
            name: format!("t_{}", ulid::Ulid::new().to_string().to_lowercase()),
        }
    }

    /// The schema's name, for `database.schema`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Default for PgSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // psql, not a pool: a drop cannot await, and the test's runtime may be gone.
        let _ = Command::new("psql")
            .arg(pg_url())
            .args([
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            ])
            .output();
    }
}

/// `sqlite://DIR/notify.db`: a database file inside the test's own scratch folder.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("notify.db").display())
}
