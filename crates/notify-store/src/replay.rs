//! Signed requests seen inside the signature window, so a replay cannot create a second message
//! on any replica.

use crate::outbox::Outbox;
use crate::StoreError;

impl Outbox<'_> {
    /// Records a signature; false when it was seen already. Entries older than `window_ms` are
    /// pruned on the way.
    pub async fn remember_signature(
        self,
        signature: &str,
        window_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = self.store.now_ms();
        let n = sqlx::query(
            "INSERT INTO seen_signatures (signature, seen_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING",
        )
        .bind(signature)
        .bind(now)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        // Prune a little at a time: a signature older than twice the window can no longer pass
        // the timestamp check, so it need not be remembered.
        sqlx::query("DELETE FROM seen_signatures WHERE seen_at < $1")
            .bind(now - 2 * window_ms)
            .execute(&self.store.pool)
            .await?;
        Ok(n == 1)
    }
}
