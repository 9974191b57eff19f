//! Migrations on both backends: applied once, readiness reflects them, and a binary older than
//! the database still starts (rolling updates and rollbacks).

mod common;

use notify_core::ManualClock;
use notify_store::Store;

on_both_backends!(
    an_older_binary_starts_on_a_newer_schema,
    migrating_twice_is_harmless
);

async fn an_older_binary_starts_on_a_newer_schema(store: Store, _clock: ManualClock) {
    store.ready().await.expect("ready after migrate");
    // A newer release applied a migration this binary does not know: copy an applied row
    // under a version from the future (the checksum column's type differs per backend).
    store
        .execute_raw(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             SELECT 99990001, 'from the future', installed_on, success, checksum, execution_time \
             FROM _sqlx_migrations WHERE version = 1",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .migrate()
        .await
        .expect("an unknown newer migration does not stop start-up");
    store.ready().await.expect("still ready");
}

async fn migrating_twice_is_harmless(store: Store, _clock: ManualClock) {
    store.migrate().await.expect("second migrate");
    store.ready().await.expect("ready");
}
