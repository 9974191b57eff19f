//! Each suite test runs on a fresh store of each backend: a new Postgres schema (dropped
//! afterwards) or a new SQLite file (deleted afterwards), on a manual clock at
//! `notify_testkit::T0`.

/// Declares one test per backend for each async fn `name(Store, ManualClock)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        notify_testkit::on_both_backends!(notify_testkit::with_store, 4; $($name),+);
    };
}
