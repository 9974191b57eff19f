//! The database clock corrects a skewed host clock.

mod common;

use std::sync::Arc;

use notify_core::{Clock, ManualClock, OffsetClock, SystemClock};
use notify_store::{DatabaseClock, Store};

on_both_backends!(a_skewed_host_reads_the_database_time);

async fn a_skewed_host_reads_the_database_time(store: Store, _clock: ManualClock) {
    // A host two minutes ahead.
    let host: Arc<dyn Clock> = Arc::new(OffsetClock::new(SystemClock, 120_000));
    let clock = DatabaseClock::new(host, 0);
    let offset = clock.calibrate(&store).await.expect("calibrate");
    let err = clock.now_ms() - SystemClock.now_ms();
    match store.dialect() {
        notify_store::Dialect::Postgres => {
            // The database runs on this host with the true time: the skew is measured away.
            assert!((offset + 120_000).abs() < 1_000, "offset {offset}");
            assert!(err.abs() < 1_000, "corrected clock off by {err} ms");
        }
        notify_store::Dialect::Sqlite => {
            assert_eq!(offset, 0, "one host: nothing to correct");
        }
    }
}
