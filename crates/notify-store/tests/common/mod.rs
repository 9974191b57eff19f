//! Opens a fresh store on each backend: a new Postgres schema (dropped afterwards) or a new
//! SQLite file (deleted afterwards).

use std::future::Future;
use std::sync::Arc;

use notify_core::ManualClock;
use notify_store::{Store, StoreOptions};

/// The clock every suite test starts at: 2026-11-23T10:00:00Z.
pub const T0: i64 = 1_795_428_000_000;

/// The Postgres the suite uses (`NOTIFY_TEST_PG` overrides).
pub fn pg_url() -> String {
    std::env::var("NOTIFY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs `body` against a fresh store of `backend` ("postgres" | "sqlite") and cleans up even
/// when it panics.
pub async fn with_store<F, Fut>(backend: &str, body: F)
where
    F: FnOnce(Store, ManualClock) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let (opts, file) = match backend {
        "postgres" => {
            let mut o = StoreOptions::new(pg_url());
            o.schema = Some(format!("t_{suffix}"));
            o.max_connections = 12;
            (o, None)
        }
        _ => {
            let path = std::env::temp_dir().join(format!("notify-test-{suffix}.db"));
            let o = StoreOptions::new(format!("sqlite://{}", path.display()));
            (o, Some(path))
        }
    };
    let store = Store::connect(&opts, Arc::new(clock.clone()))
        .await
        .expect("connect (is Postgres running? scripts/test starts it)");
    store.migrate().await.expect("migrate");
    let handle = tokio::spawn(body(store.clone(), clock));
    let result = handle.await;
    store.drop_schema().await.expect("drop schema");
    store.close().await;
    if let Some(f) = file {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", f.display()));
        }
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares one test per backend for each async fn `name(Store, ManualClock)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    $crate::common::with_store("sqlite", super::$name).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    $crate::common::with_store("postgres", super::$name).await;
                }
            }
        )+
    };
}
