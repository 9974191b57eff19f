//! Group commit: concurrent requests hand their messages to one task that inserts whatever is
//! queued at that moment in one transaction, so a commit's cost is shared. No timers: the task
//! takes one message, then everything already waiting (up to `commit_batch_max`).

use std::sync::OnceLock;

use notify_store::{InsertOutcome, NewMessage, Store};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

type Reply = oneshot::Sender<Result<InsertOutcome, CommitError>>;
type Job = (NewMessage, Reply);

/// Why a commit did not happen.
#[derive(Debug, Clone)]
pub(crate) enum CommitError {
    /// The store cannot be reached (503).
    Unavailable(String),
    /// Anything else (500).
    Failed(String),
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Unavailable(m) => ApiError::Unavailable(m),
            CommitError::Failed(m) => ApiError::Internal(m),
        }
    }
}

/// Hands messages to the committer task.
pub struct GroupCommitter {
    tx: mpsc::Sender<Job>,
    rx: Mutex<Option<(mpsc::Receiver<Job>, Store)>>,
    started: OnceLock<()>,
    max: usize,
}

impl GroupCommitter {
    /// A committer over `store`; its task starts with the first message.
    pub fn new(store: Store, max: usize) -> Self {
        let max = max.max(1);
        let (tx, rx) = mpsc::channel(max * 8);
        Self {
            tx,
            rx: Mutex::new(Some((rx, store))),
            started: OnceLock::new(),
            max,
        }
    }

    /// Commits one message; returns once it is durable (or refused).
    pub async fn commit(&self, message: NewMessage) -> Result<InsertOutcome, ApiError> {
        self.started.get_or_init(|| {
            if let Some((rx, store)) = self.rx.lock().take() {
                // Postgres commits of concurrent batches overlap (each waits on its own fsync),
                // so a few committers pipeline: while one batch commits, the next gathers.
                // SQLite has one writer; more committers would only queue on its lock.
                let committers = match store.dialect() {
                    notify_store::Dialect::Postgres => COMMITTERS,
                    notify_store::Dialect::Sqlite => 1,
                };
                let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
                for _ in 0..committers {
                    tokio::spawn(run(rx.clone(), store.clone(), self.max));
                }
            }
        });
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((message, reply))
            .await
            .map_err(|_| ApiError::Unavailable("the committer has stopped".into()))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ApiError::Unavailable("the committer has stopped".into())),
        }
    }
}

/// Concurrent committers on Postgres.
const COMMITTERS: usize = 3;

async fn run(
    rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    store: Store,
    max: usize,
) {
    loop {
        // Gather under the lock, commit outside it, so the next committer can gather meanwhile.
        let (messages, replies) = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut messages = vec![first.0];
            let mut replies = vec![first.1];
            while messages.len() < max {
                match rx.try_recv() {
                    Ok((m, r)) => {
                        messages.push(m);
                        replies.push(r);
                    }
                    Err(_) => break,
                }
            }
            (messages, replies)
        };
        metrics::histogram!("notify_ingress_commit_batch_size").record(messages.len() as f64);
        let results = commit_batch(&store, &messages).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that went away has lost only its answer: the message is committed.
            let _ = reply.send(result);
        }
    }
}

/// One transaction for the batch; when it fails for a reason other than an outage, each
/// message is tried alone so one bad message cannot sink the others. Also the commit of
/// `POST /v1/messages/batch`.
pub(crate) async fn commit_batch(
    store: &Store,
    messages: &[NewMessage],
) -> Vec<Result<InsertOutcome, CommitError>> {
    let outcomes = insert(store, messages).await;
    count_suppressed(&outcomes);
    // Escalation steps are planned with their message: counted once it is stored.
    let scheduled: usize = messages
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Ok(InsertOutcome::Inserted)))
        .map(|(m, _)| {
            m.deliveries
                .iter()
                .filter(|d| d.escalation_step.is_some())
                .count()
        })
        .sum();
    if scheduled > 0 {
        metrics::counter!("notify_escalation_steps_total", "outcome" => "scheduled")
            .increment(scheduled as u64);
    }
    outcomes
}

async fn insert(store: &Store, messages: &[NewMessage]) -> Vec<Result<InsertOutcome, CommitError>> {
    match store.outbox().insert_messages(messages).await {
        Ok(outcomes) if outcomes.len() == messages.len() => outcomes.into_iter().map(Ok).collect(),
        Ok(outcomes) => {
            let m = format!(
                "{} outcomes for {} messages",
                outcomes.len(),
                messages.len()
            );
            messages
                .iter()
                .map(|_| Err(CommitError::Failed(m.clone())))
                .collect()
        }
        Err(e) if e.is_unavailable() => {
            let m = e.to_string();
            messages
                .iter()
                .map(|_| Err(CommitError::Unavailable(m.clone())))
                .collect()
        }
        Err(e) if messages.len() == 1 => vec![Err(CommitError::Failed(e.to_string()))],
        Err(e) => {
            tracing::warn!(error = %e, size = messages.len(), "batch insert failed; inserting one by one");
            let mut out = Vec::with_capacity(messages.len());
            for m in messages {
                out.push(
                    match store
                        .outbox()
                        .insert_messages(std::slice::from_ref(m))
                        .await
                    {
                        Ok(mut o) if o.len() == 1 => Ok(o.remove(0)),
                        Ok(_) => Err(CommitError::Failed("no outcome".into())),
                        Err(e) if e.is_unavailable() => {
                            Err(CommitError::Unavailable(e.to_string()))
                        }
                        Err(e) => Err(CommitError::Failed(e.to_string())),
                    },
                );
            }
            out
        }
    }
}

/// Storm control's work, whoever committed the messages (`POST /v1/messages`, the batch
/// route, hooks).
fn count_suppressed(outcomes: &[Result<InsertOutcome, CommitError>]) {
    let n = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(InsertOutcome::Suppressed { .. })))
        .count();
    if n > 0 {
        metrics::counter!("notify_alerts_suppressed_total").increment(n as u64);
    }
}
