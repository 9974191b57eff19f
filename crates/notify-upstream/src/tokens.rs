//! Upstream tokens: cached in the store (shared by every replica) and in memory, refreshed
//! ahead of expiry by one caller at a time. In a process, a mutex per credential makes the
//! waiters share one fetch; across replicas the store's fetch lease does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify_channels::{ChannelHandle, TokenAnswer};
use notify_store::Store;
use parking_lot::Mutex;

use crate::http::{TransportError, UpstreamClient};
use crate::pace::{pace, Pace, Paces};

/// Why no token could be had.
///
/// A decision rather than a wrapped error (see [`TransportError`] for why the crate keeps two
/// enums): each variant tells the dispatcher what to do with the part, and its text is stored
/// as the part's error. A store error behind `Later` becomes that text: what the part records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The credential is rejected (wrong secret, locked): the operator must act.
    Rejected(String),
    /// Try again later (upstream down, another replica still fetching).
    Later(String),
    /// Upstream rate-limited the token fetch (WeLink `48503`, WeCom `45009`, OAuth 429): the
    /// part waits like a send that met the limit — the lane pauses, no attempt is spent — and
    /// this credential fetches no token until `initial_backoff` has passed.
    RateLimited {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
        /// How long to wait before the next fetch.
        initial_backoff: Duration,
    },
}

/// A rate-limited token fetch: no fetch for the credential before `until_ms` (unix ms).
#[derive(Debug, Clone)]
struct Hold {
    until_ms: i64,
    code: String,
    message: String,
}

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    refresh_at: i64,
    expires_at: i64,
}

/// Gets tokens for channels.
#[derive(Debug, Clone)]
pub struct TokenManager {
    store: Store,
    http: UpstreamClient,
    owner: String,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    fetch_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    fetches: Arc<std::sync::atomic::AtomicU64>,
    paces: Arc<Paces>,
    holds: Arc<Mutex<HashMap<String, Hold>>>,
}

impl TokenManager {
    /// A manager fetching as `owner` (the replica id).
    pub fn new(store: Store, http: UpstreamClient, owner: String) -> Self {
        Self {
            store,
            http,
            owner,
            cache: Arc::default(),
            fetch_locks: Arc::default(),
            fetches: Arc::default(),
            paces: Arc::default(),
            holds: Arc::default(),
        }
    }

    /// Shares the dispatcher's paces: a token fetch is a WeLink-host call like any other, so it
    /// takes a slot in its credential's token lane and in its egress group (contract §2).
    pub fn with_paces(mut self, paces: Arc<Paces>) -> Self {
        self.paces = paces;
        self
    }

    /// Token fetches this process has made (tests prove single-flight with it).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token for `channel`'s credential.
    pub async fn token(&self, channel: &ChannelHandle) -> Result<String, TokenError> {
        self.token_avoiding(channel, None).await
    }

    /// A token other than `refused`, which upstream has just called invalid. Many calls in
    /// flight meet the same refusal; whichever of them comes first fetches, the others get its
    /// token — but never `refused` again, even when they read the cache or the store before
    /// the refused token was dropped from them (which would cost the call its one retry).
    pub async fn token_after_refusal(
        &self,
        channel: &ChannelHandle,
        refused: &str,
    ) -> Result<String, TokenError> {
        self.token_avoiding(channel, Some(refused)).await
    }

    async fn token_avoiding(
        &self,
        channel: &ChannelHandle,
        refused: Option<&str>,
    ) -> Result<String, TokenError> {
        let usable = |t: &str| refused != Some(t);
        let credential = channel.adapter.credential();
        let now = self.store.now_ms();
        if let Some(c) = self.cache.lock().get(&credential) {
            if now < c.refresh_at && usable(&c.token) {
                return Ok(c.token.clone());
            }
        }
        let lock = self
            .fetch_locks
            .lock()
            .entry(credential.clone())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        // Another task of this process may have fetched while we waited.
        let now = self.store.now_ms();
        if let Some(c) = self.cache.lock().get(&credential) {
            if now < c.refresh_at && usable(&c.token) {
                return Ok(c.token.clone());
            }
        }
        let mut waited = Duration::ZERO;
        loop {
            let row = self
                .store
                .tokens()
                .token(&credential)
                .await
                .map_err(|e| TokenError::Later(e.to_string()))?;
            if let Some(code) = &row.rejected_code {
                return Err(TokenError::Rejected(format!(
                    "credential rejected by upstream ({code}): {}",
                    row.rejected_error.clone().unwrap_or_default()
                )));
            }
            let now = self.store.now_ms();
            if let Some(t) = &row.token {
                if now < row.refresh_at && usable(t) {
                    self.remember(&credential, t, row.refresh_at, row.expires_at);
                    return Ok(t.clone());
                }
            }
            // Upstream rate-limited the last fetch: a token due for refresh but not expired
            // still serves; without one, the part waits out the limit instead of fetching
            // into it again.
            if let Some(hold) = self.held(&credential, now) {
                if let Some(t) = &row.token {
                    if now < row.expires_at && usable(t) {
                        return Ok(t.clone());
                    }
                }
                return Err(hold);
            }
            if self
                .store
                .tokens()
                .begin_token_fetch(&credential, &self.owner, 15_000)
                .await
                .map_err(|e| TokenError::Later(e.to_string()))?
            {
                return self.fetch(channel, &credential).await;
            }
            // Another replica is fetching; a still-valid token may be used meanwhile.
            if let Some(t) = &row.token {
                if now < row.expires_at && usable(t) {
                    return Ok(t.clone());
                }
            }
            if waited >= Duration::from_secs(10) {
                return Err(TokenError::Later(
                    "another replica is fetching the token".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += Duration::from_millis(100);
        }
    }

    async fn fetch(&self, channel: &ChannelHandle, credential: &str) -> Result<String, TokenError> {
        let Some(req) = channel.adapter.token_request() else {
            let _ = self
                .store
                .tokens()
                .end_token_fetch(credential, &self.owner)
                .await;
            return Err(TokenError::Rejected("this channel uses no token".into()));
        };
        let lane = channel.rate_limits().map(|l| {
            let documented = channel.adapter.default_rate_limits();
            self.paces
                .lane(&format!("{credential}|token"), l, documented)
        });
        let group = channel.egress_group().map(|g| self.paces.group(&g));
        let paces: Vec<&Pace> = lane.iter().chain(group.iter()).map(|p| &**p).collect();
        pace(&paces).await;
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("notify_token_fetches_total", "channel" => channel.name.clone())
            .increment(1);
        let answer = match self.http.call(&req).await {
            Ok(a) => a,
            Err(TransportError::NotSent(e) | TransportError::Unknown(e)) => {
                let _ = self
                    .store
                    .tokens()
                    .end_token_fetch(credential, &self.owner)
                    .await;
                return Err(TokenError::Later(format!(
                    "token endpoint unreachable: {e}"
                )));
            }
        };
        let now = self.store.now_ms();
        match channel.adapter.parse_token(&answer) {
            TokenAnswer::Issued {
                token,
                expires_in_s,
                refresh_ahead_s,
            } => {
                let expires_at = now + expires_in_s * 1000;
                // Refresh ahead (WeLink: expires_in - 300 s), but never before half its life.
                let refresh_at =
                    now + (expires_in_s - refresh_ahead_s).max(expires_in_s / 2) * 1000;
                self.store
                    .tokens()
                    .store_token(credential, &token, expires_at, refresh_at)
                    .await
                    .map_err(|e| TokenError::Later(e.to_string()))?;
                self.remember(credential, &token, refresh_at, expires_at);
                Ok(token)
            }
            TokenAnswer::Rejected { code, message } => {
                tracing::error!(channel = %channel.name, %code, %message, "credential rejected: token fetching stopped until the config changes or an admin retries");
                let _ = self
                    .store
                    .tokens()
                    .reject_credential(credential, &code, &message)
                    .await;
                Err(TokenError::Rejected(format!("{code}: {message}")))
            }
            TokenAnswer::RateLimited {
                code,
                message,
                initial_backoff,
            } => {
                let _ = self
                    .store
                    .tokens()
                    .end_token_fetch(credential, &self.owner)
                    .await;
                tracing::warn!(channel = %channel.name, %code, pause_ms = initial_backoff.as_millis() as u64, "token fetch rate-limited");
                self.holds.lock().insert(
                    credential.to_string(),
                    Hold {
                        until_ms: now + initial_backoff.as_millis() as i64,
                        code: code.clone(),
                        message: message.clone(),
                    },
                );
                Err(TokenError::RateLimited {
                    code,
                    message: format!("token fetch rate-limited: {message}"),
                    initial_backoff,
                })
            }
            TokenAnswer::Failed { code, message } => {
                let _ = self
                    .store
                    .tokens()
                    .end_token_fetch(credential, &self.owner)
                    .await;
                Err(TokenError::Later(format!(
                    "token fetch failed ({code}): {message}"
                )))
            }
        }
    }

    /// The rate-limit hold on `credential`'s fetches at `now`, as the error a caller gets: its
    /// back-off is what is left of the hold.
    fn held(&self, credential: &str, now: i64) -> Option<TokenError> {
        let mut holds = self.holds.lock();
        let hold = holds.get(credential)?;
        if hold.until_ms <= now {
            holds.remove(credential);
            return None;
        }
        Some(TokenError::RateLimited {
            code: hold.code.clone(),
            message: format!("token fetch rate-limited: {}", hold.message),
            initial_backoff: Duration::from_millis((hold.until_ms - now) as u64),
        })
    }

    fn remember(&self, credential: &str, token: &str, refresh_at: i64, expires_at: i64) {
        self.cache.lock().insert(
            credential.to_string(),
            Cached {
                token: token.to_string(),
                refresh_at,
                expires_at,
            },
        );
    }

    /// Upstream called `token` invalid: forget it here and in the store (unless a refresh
    /// already replaced it), so the next call fetches once.
    pub async fn invalidate(&self, channel: &ChannelHandle, token: &str) {
        let credential = channel.adapter.credential();
        {
            let mut cache = self.cache.lock();
            if cache.get(&credential).is_some_and(|c| c.token == token) {
                cache.remove(&credential);
            }
        }
        if let Err(e) = self.store.tokens().drop_token(&credential, token).await {
            tracing::warn!(error = %e, "could not drop an invalid token");
        }
    }

    /// When the cached token of a credential expires (for `/v1/channels`).
    pub fn cached_expiry(&self, credential: &str) -> Option<i64> {
        self.cache.lock().get(credential).map(|c| c.expires_at)
    }
}
