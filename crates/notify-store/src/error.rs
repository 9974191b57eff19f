use thiserror::Error;

/// What went wrong in the store. `Unavailable` is the one callers retry: the API answers it
/// with 503 and `Retry-After`.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached, or the pool is exhausted.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A bad `database.*` setting.
    #[error("{0}")]
    Config(String),
    /// Migrations failed or are missing.
    #[error("migrations: {0}")]
    Migration(String),
    /// A stored row cannot be read back (a bug or a hand edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// True when retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) => {
                // 57P01 admin shutdown, 57P02/57P03 crash / cannot connect now, 08xxx connection
                // exceptions, SQLite BUSY (5) / LOCKED (6): all pass when the database is back.
                // A deadlock (40P01) or serialization failure (40001) passes on a retry: the
                // caller is told to retry (503), never given a 500.
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                if code.starts_with("57P")
                    || code.starts_with("08")
                    || code == "40P01"
                    || code == "40001"
                    || code == "5"
                    || code == "6"
                {
                    StoreError::Unavailable(e.to_string())
                } else {
                    StoreError::Database(e.to_string())
                }
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}
