//! What the workspace's tests and benches set up again and again, written once: a fresh store
//! on either backend (a new Postgres schema or a new SQLite file) that is removed afterwards
//! even when the test panics, the Postgres they use, free ports and scratch folders.
//!
//! A dev-dependency only; nothing here runs in the gateway.

use std::fmt;
use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use notify_core::{Clock, ManualClock};
use notify_store::{Store, StoreOptions};

/// The instant manual clocks start at in tests: 2026-11-23T10:00:00Z.
pub const T0: i64 = 1_795_428_000_000;

/// The Postgres tests use: `NOTIFY_TEST_PG`, else the local server's `test` database
/// (`scripts/test` starts it).
pub fn pg_url() -> String {
    std::env::var("NOTIFY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A port nobody listens on right now (the OS's choice).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A new empty folder under the system's temp folder, named after `what`.
pub fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("notify-{what}-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// The two store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh schema in [`pg_url`]'s database.
    Postgres,
    /// A fresh file in the temp folder.
    Sqlite,
}

impl Backend {
    /// `postgres` or `sqlite`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A migrated store that exists for one test: [`ScratchStore::remove`] drops its schema or
/// deletes its file.
pub struct ScratchStore {
    /// The store.
    pub store: Store,
    /// How it was opened (the schema to drop).
    options: StoreOptions,
    file: Option<PathBuf>,
}

impl ScratchStore {
    /// Opens and migrates a fresh store on `backend` with a pool of `max_connections`
    /// (SQLite caps its own pool) and `clock`.
    pub async fn open(backend: Backend, max_connections: u32, clock: Arc<dyn Clock>) -> Self {
        let suffix = ulid::Ulid::new().to_string().to_lowercase();
        let (mut options, file) = match backend {
            Backend::Postgres => {
                let mut o = StoreOptions::new(pg_url());
                o.schema = Some(format!("t_{suffix}"));
                (o, None)
            }
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("notify-test-{suffix}.db"));
                (
                    StoreOptions::new(format!("sqlite://{}", path.display())),
                    Some(path),
                )
            }
        };
        options.max_connections = max_connections;
        let store = Store::connect(&options, clock)
            .await
            .expect("connect (is Postgres running? scripts/test starts it)");
        let scratch = Self {
            store,
            options,
            file,
        };
        // A failed migration must not leave its half-made schema behind.
        if let Err(e) = scratch.store.migrate().await {
            scratch.remove().await;
            panic!("migrate: {e}");
        }
        scratch
    }

    /// Drops the schema or deletes the file. Works when the test closed the store (through a
    /// fresh connection then).
    pub async fn remove(self) {
        if self.options.schema.is_some() {
            let dropped = !self.store.is_closed() && self.store.drop_schema().await.is_ok();
            if !dropped {
                if let Ok(s) = Store::connect(&self.options, Arc::new(ManualClock::new(T0))).await {
                    let _ = s.drop_schema().await;
                    s.close().await;
                }
            }
        }
        self.store.close().await;
        if let Some(f) = &self.file {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", f.display()));
            }
        }
    }

    /// Runs `body` on its own task, removes the store whatever happened, then passes on the
    /// body's panic so the test still fails with it.
    pub async fn run<Fut>(self, body: Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let result = tokio::spawn(body).await;
        self.remove().await;
        if let Err(e) = result {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Runs `body` against a fresh store of `backend` on a [`ManualClock`] at [`T0`], and removes
/// the store even when `body` panics.
pub async fn with_store<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store, ManualClock) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let scratch = ScratchStore::open(backend, 12, Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    scratch.run(body(store, clock)).await;
}

/// Declares, for each async fn `name`, a module `name` with one test per backend that calls
/// `$runner(Backend, name)` on a multi-thread runtime of `$threads` workers.
///
/// ```ignore
/// notify_testkit::on_both_backends!(crate::common::with_app, 2; lists_messages, recalls);
/// ```
#[macro_export]
macro_rules! on_both_backends {
    ($runner:path, $threads:literal; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn sqlite() {
                    $runner($crate::Backend::Sqlite, super::$name).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn postgres() {
                    $runner($crate::Backend::Postgres, super::$name).await;
                }
            }
        )+
    };
}
