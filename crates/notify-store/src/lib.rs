//! The durable outbox and everything else the gateway keeps: messages, deliveries, parts (one per
//! upstream call), attempts, lanes and their owners, tokens, quota days and seen signatures.
//!
//! One implementation serves both backends through `sqlx::Any`: the SQL is the same on Postgres
//! and SQLite but for a [`Dialect`] clause or two (row locks), so one conformance suite proves
//! both. The one exception is the batch insert on Postgres, which binds typed arrays over a
//! small native pool (`outbox::insert`). Times are unix milliseconds passed in from an injected [`Clock`], never `now()` in SQL,
//! so tests drive time and SQLite behaves like Postgres.

pub mod activity;
pub mod alerts;
pub mod db_clock;
pub mod directory;
mod error;
pub mod escalation;
pub mod lanes;
pub mod model;
pub mod monitoring;
pub mod outbox;
pub mod quota;
pub mod reads;
pub mod replay;
pub mod rollup;
pub mod sidebar;
mod sql;
mod stored;
pub mod tokens;
pub mod upkeep;
pub mod wake;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use notify_core::Clock;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use alerts::{AlertFilter, AlertMessage, AlertPosition, AlertView, Alerts, DueDigest};
pub use db_clock::DatabaseClock;
pub use directory::People;
pub use error::StoreError;
pub use escalation::Escalation;
pub use lanes::Lanes;
pub use model::*;
pub use monitoring::Monitoring;
pub use outbox::fallback::{FallbackPlan, FallbackReason, PendingFallback};
pub use outbox::Outbox;
pub use quota::Quota;
pub use reads::Reads;
pub use sidebar::Sidebar;
pub use tokens::Tokens;
pub use wake::Wake;

/// Which SQL database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: many writers, row locks with `SKIP LOCKED`, `LISTEN/NOTIFY`.
    Postgres,
    /// SQLite: one writer at a time, so a claim statement is atomic by itself.
    Sqlite,
}

impl Dialect {
    /// The backend named by a database URL's scheme.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else {
            Err(StoreError::Config(format!(
                "database.url must start with postgres:// or sqlite:, got {:?}",
                url.split(':').next().unwrap_or("")
            )))
        }
    }
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…` or `sqlite://path` (`sqlite::memory:` for a throw-away store).
    pub url: String,
    /// Pool size on Postgres. SQLite always uses one connection (see [`Store::connect`]).
    pub max_connections: u32,
    /// Postgres schema to work in (tests use a fresh one each); `None`: the default path.
    pub schema: Option<String>,
    /// How long a caller waits for a pooled connection before the store counts as unavailable.
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    /// Options for `url` with defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            schema: None,
            acquire_timeout: Duration::from_secs(3),
        }
    }

    /// Size of the main pool on Postgres.
    pub fn postgres_pool_size(&self) -> u32 {
        self.max_connections.max(2)
    }

    /// Size of the native Postgres pool behind the batch insert: half the main pool (ingress
    /// has at most a few committers at a time).
    pub fn batch_pool_size(&self) -> u32 {
        (self.max_connections / 2).max(2)
    }

    /// The most Postgres connections one store opens: both pools and the wake-up listener.
    pub fn postgres_connections_at_most(&self) -> u32 {
        self.postgres_pool_size() + self.batch_pool_size() + 1
    }
}

/// The store. Cheap to clone.
///
/// `Store` itself holds only the infrastructure (connecting, migrating, readiness, the clock,
/// wake-ups, closing, and the table upkeep of [`upkeep`]). Its domain operations are reached through role handles, one per kind of
/// work, so a crate's calls name the role it plays and each crate sees what it needs:
/// [`Store::outbox`], [`Store::reads`], [`Store::lanes`], [`Store::tokens`], [`Store::quota`],
/// [`Store::sidebar`], [`Store::alerts`], [`Store::people`], [`Store::escalation`] and
/// [`Store::monitoring`]. A handle is a borrowed reference to the store (no cost to make, `Copy`)
/// and reaches no other role: which crate uses which role is in `crates/notify-store/README.md`,
/// kept true by `tests/role_use.rs`.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) wake: Wake,
    /// Bumped after a commit that made a fallback due (the fallback loop waits on it).
    pub(crate) fallback_wake: Wake,
    /// Lanes known to exist in the database: ingress skips registering them again (two
    /// statements per batch saved on the hot path).
    pub(crate) known_lanes: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    pub(crate) schema: Option<String>,
    /// Postgres only: a small native pool for the batch insert, which binds typed arrays
    /// (`UNNEST`) that `sqlx::Any` cannot encode.
    pub(crate) native_pg: Option<sqlx::PgPool>,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .field("schema", &self.schema)
            .finish()
    }
}

static MIGRATE_PG: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

impl Store {
    /// Opens the pool (creating the SQLite file and its folder if needed). Does not migrate.
    pub async fn connect(opts: &StoreOptions, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(&opts.url)?;
        if dialect == Dialect::Sqlite {
            create_sqlite_parent(&opts.url)?;
        }
        let mut url = opts.url.clone();
        if dialect == Dialect::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let connect = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("database.url: {e}")))?
            .disable_statement_logging();
        let schema = opts.schema.clone();
        if let Some(s) = &schema {
            if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::Config(format!(
                    "database.schema: bad name {s:?}"
                )));
            }
        }
        let pool_schema = schema.clone();
        let pool = AnyPoolOptions::new()
            // SQLite has one writer, and a writer that finds the lock taken waits in SQLite's
            // busy handler, which polls with growing sleeps (up to 100 ms each): under ingress
            // and the dispatcher's drain together one waiter could miss every free moment for a
            // second (BENCHMARKS.md, "SQLite: one connection"). With one connection the waiters
            // queue in the pool instead, in order, and are handed the connection the moment it
            // is free. An in-memory database exists per connection, so it must be one anyway.
            .max_connections(match dialect {
                Dialect::Sqlite => 1,
                Dialect::Postgres => opts.postgres_pool_size(),
            })
            .acquire_timeout(opts.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let schema = pool_schema.clone();
                Box::pin(async move {
                    match dialect {
                        Dialect::Sqlite => {
                            // SQLite's busy handler polls with growing sleeps, so under a run
                            // of back-to-back writers one waiter can miss every free moment;
                            // 30 s (not 5) keeps such a waiter from failing a claim or an insert
                            // with "database is locked" on a slow machine.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                        }
                        Dialect::Postgres => {
                            if let Some(s) = schema {
                                conn.execute(format!("SET search_path TO {s}").as_str())
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect.clone())
            .await;
        let pool = match pool {
            Ok(pool) => pool,
            Err(sqlx::Error::PoolTimedOut) => {
                return Err(StoreError::unavailable(
                    why_not_connected(&opts.url, &connect, opts.acquire_timeout).await,
                ))
            }
            Err(e) => return Err(StoreError::from(e)),
        };
        let native_pg = match dialect {
            Dialect::Postgres => Some(native_pg_pool(&url, opts, schema.clone())?),
            Dialect::Sqlite => None,
        };
        let wake = Wake::new();
        let store = Store {
            pool,
            dialect,
            clock,
            wake,
            fallback_wake: Wake::new(),
            known_lanes: Arc::default(),
            schema,
            native_pg,
            url: opts.url.clone(),
        };
        if dialect == Dialect::Postgres {
            wake::spawn_pg_listener(store.clone());
        }
        Ok(store)
    }

    /// Applies the migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if let (Dialect::Postgres, Some(s)) = (self.dialect, &self.schema) {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
                .execute(&self.pool)
                .await?;
        }
        let mut migrator = match self.dialect {
            Dialect::Postgres => sqlx::migrate!("../../migrations/postgres"),
            Dialect::Sqlite => sqlx::migrate!("../../migrations/sqlite"),
        };
        // During a rolling update or a rollback an older binary meets a database a newer one
        // migrated. Migrations are forward-compatible (docs/operations.md), so the older binary
        // runs instead of refusing to start.
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await.map_err(StoreError::from)
    }

    /// True when the store answers and every migration is applied (readiness).
    pub async fn ready(&self) -> Result<(), StoreError> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let expected = match self.dialect {
            Dialect::Postgres => MIGRATE_PG.iter().count(),
            Dialect::Sqlite => MIGRATE_SQLITE.iter().count(),
        } as i64;
        if applied < expected {
            return Err(StoreError::migration(format!(
                "{applied} of {expected} migrations applied"
            )));
        }
        Ok(())
    }

    /// One round trip (`SELECT 1`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The backend.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Now, from the injected clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Wake-ups for workers: bumped after every commit that adds or frees work.
    pub fn wake(&self) -> &Wake {
        &self.wake
    }

    /// Wake-ups for the fallback loop: bumped after every commit that made a fallback due.
    pub fn fallback_wake(&self) -> &Wake {
        &self.fallback_wake
    }

    /// The database URL the store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Postgres schema, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes cannot wait for the lock
    /// and fails with "database is locked" under concurrency.
    pub(crate) async fn begin_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// True once the pool is closed.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(pg) = &self.native_pg {
            pg.close().await;
        }
    }

    /// Runs one statement as it is (tests and tools; never with caller input).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }

    /// The outbox's writes and their lifecycle ([`Outbox`]).
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { store: self }
    }

    /// Messages, pages, counts and lane depths as callers and gauges read them ([`Reads`]).
    pub fn reads(&self) -> Reads<'_> {
        Reads { store: self }
    }

    /// Lanes, their owners' leases and the replicas' heartbeats ([`Lanes`]).
    pub fn lanes(&self) -> Lanes<'_> {
        Lanes { store: self }
    }

    /// The shared token cache and credential rejection ([`Tokens`]).
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { store: self }
    }

    /// Daily quotas ([`Quota`]).
    pub fn quota(&self) -> Quota<'_> {
        Quota { store: self }
    }

    /// The Juzi sidebar's state and reads ([`Sidebar`]).
    pub fn sidebar(&self) -> Sidebar<'_> {
        Sidebar { store: self }
    }

    /// Alert reads and digests ([`Alerts`]).
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts { store: self }
    }

    /// The people-and-groups directory ([`People`]).
    pub fn people(&self) -> People<'_> {
        People { store: self }
    }

    /// Acknowledgement and escalation steps ([`Escalation`]).
    pub fn escalation(&self) -> Escalation<'_> {
        Escalation { store: self }
    }

    /// The aggregate reads behind the gauges and the console ([`Monitoring`]).
    pub fn monitoring(&self) -> Monitoring<'_> {
        Monitoring { store: self }
    }

    /// Drops the Postgres schema this store works in (tests' clean-up).
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        if let (Dialect::Postgres, Some(s)) = (self.dialect, &self.schema) {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// Why the pool could not open its first connection. The pool only says it timed out, which
/// tells an operator nothing; one direct attempt gives the cause ("connection refused to
/// 127.0.0.1:5999", a wrong password, a missing database).
async fn why_not_connected(url: &str, connect: &AnyConnectOptions, wait: Duration) -> String {
    let endpoint = endpoint_of(url);
    match tokio::time::timeout(wait, connect.connect()).await {
        Err(_) => format!("no answer from {endpoint} within {wait:?}"),
        Ok(Ok(_)) => format!("no connection to {endpoint} within {wait:?}"),
        Ok(Err(sqlx::Error::Io(io))) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("connection refused to {endpoint}"),
            std::io::ErrorKind::TimedOut => format!("connection to {endpoint} timed out"),
            _ => format!("cannot connect to {endpoint}: {io}"),
        },
        Ok(Err(sqlx::Error::Database(db))) => format!("{endpoint}: {}", db.message()),
        Ok(Err(e)) => format!("cannot connect to {endpoint}: {e}"),
    }
}

/// `host:port` of a database URL (the file of a SQLite URL), without credentials.
fn endpoint_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database".into();
    };
    if scheme.starts_with("sqlite") {
        return rest.split('?').next().unwrap_or(rest).to_string();
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if host.is_empty() {
        "localhost:5432".into()
    } else if (host.starts_with('[') && host.ends_with(']')) || !host.contains(':') {
        format!("{host}:5432")
    } else {
        host.to_string()
    }
}

/// The native Postgres pool behind the batch insert ([`StoreOptions::batch_pool_size`]), opened
/// lazily so a store that only reads never connects it.
fn native_pg_pool(
    url: &str,
    opts: &StoreOptions,
    schema: Option<String>,
) -> Result<sqlx::PgPool, StoreError> {
    let connect = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("database.url: {e}")))?
        .disable_statement_logging();
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(opts.batch_pool_size())
        .acquire_timeout(opts.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(s) = schema {
                    conn.execute(format!("SET search_path TO {s}").as_str())
                        .await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(connect))
}

fn create_sqlite_parent(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Config(format!(
                    "database.url: cannot create {}: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::endpoint_of;

    #[test]
    fn the_endpoint_of_a_url_has_no_credentials() {
        assert_eq!(
            endpoint_of("postgres://notify:s3cret@db.internal:5999/notify?sslmode=disable"),
            "db.internal:5999"
        );
        assert_eq!(
            endpoint_of("postgres://postgres@127.0.0.1/test"),
            "127.0.0.1:5432"
        );
        assert_eq!(endpoint_of("postgresql://[::1]/test"), "[::1]:5432");
        assert_eq!(
            endpoint_of("sqlite://data/notify.db?mode=rwc"),
            "data/notify.db"
        );
    }
}
