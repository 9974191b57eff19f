//! Waking workers when work arrives. A version counter in a `watch` channel cannot lose a wake-up
//! that comes between "nothing to claim" and "wait" (unlike a bare notify). On Postgres a LISTEN
//! task forwards other replicas' `NOTIFY`s into it; the channel name carries the schema so that
//! parallel test schemas do not wake each other.

use std::time::Duration;

use tokio::sync::watch;

use crate::{Dialect, Store};

/// A wake-up counter shared by the store and its workers.
#[derive(Debug, Clone)]
pub struct Wake {
    tx: watch::Sender<u64>,
}

impl Wake {
    pub(crate) fn new() -> Self {
        let (tx, _) = watch::channel(0);
        Self { tx }
    }

    /// Wakes every waiting worker in this process.
    pub fn bump(&self) {
        self.tx.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver; `changed()` returns once per bump since it last looked.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

/// The NOTIFY channel of a schema.
pub(crate) fn channel_name(schema: Option<&str>) -> String {
    format!("notify_outbox_{}", schema.unwrap_or("public"))
}

impl Store {
    /// Tells this process's workers, and on Postgres every replica's, that work was added.
    pub(crate) async fn announce(&self) {
        self.wake.bump();
        if self.dialect == Dialect::Postgres {
            let chan = channel_name(self.schema.as_deref());
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(chan)
                .execute(&self.pool)
                .await
            {
                // The slow poll is the safety net; a lost NOTIFY only adds latency.
                tracing::debug!(error = %e, "pg_notify failed");
            }
        }
    }
}

pub(crate) fn spawn_pg_listener(store: Store) {
    tokio::spawn(async move {
        let chan = channel_name(store.schema.as_deref());
        loop {
            match sqlx::postgres::PgListener::connect(store.url()).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(&chan).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(_)) => store.wake.bump(),
                                // The connection dropped; re-LISTEN and wake everyone, since a
                                // NOTIFY may have been missed meanwhile.
                                Ok(None) => store.wake.bump(),
                                Err(e) => {
                                    tracing::debug!(error = %e, "LISTEN connection lost");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "LISTEN connect failed"),
            }
            if store.pool.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
