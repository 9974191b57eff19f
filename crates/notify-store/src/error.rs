use thiserror::Error;

/// What went wrong in the store. `Unavailable` is the one callers retry: the API answers it
/// with 503 and `Retry-After`. Variants that come from sqlx or serde keep that error as their
/// `source()`, so a log that walks the chain reaches the driver's own error.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached, or the pool is exhausted.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What was tried and failed (the sqlx error's text, or why no connection was made).
        reason: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// A bad `database.*` setting.
    #[error("{0}")]
    Config(String),
    /// Migrations failed or are missing.
    #[error("migrations: {reason}")]
    Migration {
        /// What failed, or how many migrations are missing.
        reason: String,
        /// The migrator's error, when one failed.
        #[source]
        source: Option<sqlx::migrate::MigrateError>,
    },
    /// A stored row cannot be read back (a bug or a hand edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A stored JSON column cannot be read back (a bug or a hand edit).
    #[error("corrupt row: {what}: {source}")]
    CorruptJson {
        /// The column and row.
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Rows could not be encoded as JSON for a batch write.
    #[error("database error: encoding rows: {0}")]
    Encode(#[source] serde_json::Error),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// True when retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// Unavailable, without a driver error behind it.
    pub(crate) fn unavailable(reason: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// Migrations missing or failed, without a migrator error behind it.
    pub(crate) fn migration(reason: impl Into<String>) -> Self {
        StoreError::Migration {
            reason: reason.into(),
            source: None,
        }
    }

    /// A JSON column of a row that does not decode.
    pub(crate) fn corrupt_json(what: impl Into<String>, source: serde_json::Error) -> Self {
        StoreError::CorruptJson {
            what: what.into(),
            source,
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration {
            reason: e.to_string(),
            source: Some(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => {
                // 57P01 admin shutdown, 57P02/57P03 crash / cannot connect now, 08xxx connection
                // exceptions, SQLite BUSY (5) / LOCKED (6): all pass when the database is back.
                // A deadlock (40P01) or serialization failure (40001) passes on a retry: the
                // caller is told to retry (503), never given a 500.
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                code.starts_with("57P")
                    || code.starts_with("08")
                    || code == "40P01"
                    || code == "40001"
                    || code == "5"
                    || code == "6"
            }
            _ => false,
        };
        if unavailable {
            StoreError::Unavailable {
                reason: e.to_string(),
                source: Some(e),
            }
        } else {
            StoreError::Database(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_database_error_keeps_the_sqlx_error_as_its_source() {
        let e = StoreError::from(sqlx::Error::RowNotFound);
        assert!(e.to_string().starts_with("database error: "), "{e}");
        let source = e.source().and_then(|s| s.downcast_ref::<sqlx::Error>());
        assert!(matches!(source, Some(sqlx::Error::RowNotFound)), "{e:?}");
    }

    #[test]
    fn an_unavailable_error_keeps_the_sqlx_error_as_its_source() {
        let e = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(e.is_unavailable());
        assert!(e.to_string().starts_with("store unavailable: "), "{e}");
        let source = e.source().and_then(|s| s.downcast_ref::<sqlx::Error>());
        assert!(matches!(source, Some(sqlx::Error::PoolTimedOut)), "{e:?}");
    }
}
