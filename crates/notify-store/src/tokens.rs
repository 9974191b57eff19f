//! Upstream tokens, cached in the store and shared by every replica. One caller at a time
//! fetches (a fetch lease), so 100 deliveries that find a token stale cause one fetch.

use sqlx::Row;

use crate::{Store, StoreError};

/// The token-cache role ([`Store::tokens`]): the shared upstream tokens (and JS-SDK tickets),
/// the fetch lease that lets one caller fetch at a time, and the rejection of a credential
/// upstream refused. Used by `notify-upstream` (the token cache), `notify-sidebar` (JS-SDK
/// tickets), `notify-dispatch` (a send answered with a credential error rejects it) and
/// `notify-api` (`GET /v1/channels` shows token state; an admin retry clears a rejection).
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'s> {
    pub(crate) store: &'s Store,
}

/// A credential's token state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenRow {
    /// The token, if one is held.
    pub token: Option<String>,
    /// When it stops working.
    pub expires_at: i64,
    /// When to fetch a new one.
    pub refresh_at: i64,
    /// A credential error that stopped fetching (`10007`, `41403`, `40001`…).
    pub rejected_code: Option<String>,
    /// Its explanation.
    pub rejected_error: Option<String>,
}

impl Tokens<'_> {
    /// The cached token state of `credential`.
    pub async fn token(self, credential: &str) -> Result<TokenRow, StoreError> {
        let row = sqlx::query(
            "SELECT token, expires_at, refresh_at, rejected_code, rejected_error FROM tokens WHERE credential = $1",
        )
        .bind(credential)
        .fetch_optional(&self.store.pool)
        .await?;
        Ok(match row {
            None => TokenRow::default(),
            Some(r) => TokenRow {
                token: r.try_get(0)?,
                expires_at: r.try_get(1)?,
                refresh_at: r.try_get(2)?,
                rejected_code: r.try_get(3)?,
                rejected_error: r.try_get(4)?,
            },
        })
    }

    /// Takes the right to fetch `credential`'s token for `lease_ms`. False when another caller
    /// is fetching, or the credential was rejected.
    pub async fn begin_token_fetch(
        self,
        credential: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = self.store.now_ms();
        sqlx::query(
            "INSERT INTO tokens (credential, updated_at) VALUES ($1, $2) ON CONFLICT (credential) DO NOTHING",
        )
        .bind(credential)
        .bind(now)
        .execute(&self.store.pool)
        .await?;
        let n = sqlx::query(
            "UPDATE tokens SET fetch_owner = $2, fetch_until = $3 \
             WHERE credential = $1 AND rejected_code IS NULL AND (fetch_owner IS NULL OR fetch_until < $4)",
        )
        .bind(credential)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stores a fetched token and ends the fetch.
    pub async fn store_token(
        self,
        credential: &str,
        token: &str,
        expires_at: i64,
        refresh_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tokens SET token = $2, expires_at = $3, refresh_at = $4, fetch_owner = NULL, \
             fetch_until = 0, updated_at = $5 WHERE credential = $1",
        )
        .bind(credential)
        .bind(token)
        .bind(expires_at)
        .bind(refresh_at)
        .bind(self.store.now_ms())
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }

    /// Ends a fetch that got no token (the next caller may try).
    pub async fn end_token_fetch(self, credential: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tokens SET fetch_owner = NULL, fetch_until = 0 WHERE credential = $1 AND fetch_owner = $2",
        )
        .bind(credential)
        .bind(owner)
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }

    /// Drops `token` if it is still the cached one (upstream called it invalid). A token
    /// already replaced by a concurrent refresh is kept.
    pub async fn drop_token(self, credential: &str, token: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE tokens SET token = NULL, expires_at = 0, refresh_at = 0, updated_at = $3 \
             WHERE credential = $1 AND token = $2",
        )
        .bind(credential)
        .bind(token)
        .bind(self.store.now_ms())
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stops token fetching for a credential that upstream rejected.
    pub async fn reject_credential(
        self,
        credential: &str,
        code: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        let now = self.store.now_ms();
        sqlx::query(
            "INSERT INTO tokens (credential, updated_at) VALUES ($1, $2) ON CONFLICT (credential) DO NOTHING",
        )
        .bind(credential)
        .bind(now)
        .execute(&self.store.pool)
        .await?;
        sqlx::query(
            "UPDATE tokens SET token = NULL, rejected_code = $2, rejected_error = $3, fetch_owner = NULL, \
             fetch_until = 0, updated_at = $4 WHERE credential = $1",
        )
        .bind(credential)
        .bind(code)
        .bind(error)
        .bind(now)
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }

    /// Lets a rejected credential fetch again (config changed, or an admin retry).
    pub async fn clear_rejection(self, credential: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tokens SET rejected_code = NULL, rejected_error = NULL WHERE credential = $1",
        )
        .bind(credential)
        .execute(&self.store.pool)
        .await?;
        Ok(())
    }
}
