//! The dispatcher: drains the outbox lane by lane. A replica owns lanes through leases in the
//! store, runs one runner per owned lane, paces each under its limiter (and WeLink lanes under
//! their egress group's), hands parts to the channel adapters, and writes completions back in
//! batches. A sweeper rescues expired leases and expires late work.
//!
//! Modules by role (each imports only from those below it in the call order, never back):
//!
//! - `worker_loop` — the main loop ([`Dispatcher::run`]): starts the writer, sweeper, lease
//!   keeper and table upkeep, looks at ownership every tick, starts lane runners, shuts down in order.
//! - `ownership` — lane ownership: unit leases, renewal, hand-over and takeover.
//! - `lane_runner` — one lane's runner: claims, waits out pauses, probes, runs parts;
//!   [`Dispatcher::run_once`].
//! - `lane` — a lane's in-memory state: its paces and pauses, and its egress group's.
//! - `pause` — pauses after rate limits (lane and egress group) and the probe that ends them.
//! - `admission` — may the part go: deadline, per-member caps, the lane's gate (pace, pause,
//!   ownership) and the daily quota.
//! - `execute` — one part start to finish ([`Dispatcher::execute`]).
//! - `call` — the call: media, token, the adapter's request over HTTP.
//! - `settle` — applying an answer: attempt, metrics, token drop, credential, quota, `decide`.
//! - `completion` — the completion writer and the held parts' lease keeper.
//! - `sweeper` — lease rescue, expiry, pending recalls, gauges, retention purge.
//! - `table_upkeep` — autovacuum's work on the gateway's tables when the server's is off.
//! - `recall` — recalls asked for during a send, queued once it ends.
//! - [`decide`], [`backoff`], [`limits`] (per-member caps), [`fetch`] (the guarded media
//!   fetcher), `gauges`, [`metrics_help`].
//!
//! The HTTP client, the token manager and the paces live in `notify-upstream`, which the
//! sidebar uses too.
//!
//! Tests drive it without sleeping through [`Dispatcher::run_once`].

mod admission;
pub mod backoff;
mod call;
mod completion;
pub mod decide;
mod execute;
pub mod fetch;
mod gauges;
mod lane;
mod lane_runner;
pub mod limits;
pub mod metrics_help;
mod ownership;
mod pause;
mod recall;
mod settle;
mod sweeper;
mod table_upkeep;
mod worker_loop;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify_channels::ChannelHandle;
use notify_store::Store;
use parking_lot::Mutex;

pub use decide::RetryPolicy;
pub use fetch::FetchPolicy;
pub use lane::LaneState;
pub use metrics_help::describe_metrics;

use crate::fetch::GuardedFetcher;
use crate::lane::LaneStates;
use crate::limits::MemberWindows;
use notify_upstream::http::UpstreamClient;
use notify_upstream::pace::Paces;
use notify_upstream::tokens::TokenManager;

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// This replica's id (lease owner).
    pub replica_id: String,
    /// Retry policy (`[delivery]`).
    pub policy: RetryPolicy,
    /// A claimed part's lease.
    pub part_lease: Duration,
    /// A lane unit's ownership lease.
    pub lane_lease: Duration,
    /// Parts claimed per lane per round.
    pub claim_batch: i64,
    /// The safety-net poll when no wake-up comes.
    pub poll_interval: Duration,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Upstream total timeout.
    pub request_timeout: Duration,
    /// Media fetching.
    pub fetch: FetchPolicy,
    /// Finished messages older than this are purged (`retention.finished_days`).
    pub retention: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            replica_id: format!("replica-{}", ulid::Ulid::new()),
            policy: RetryPolicy::default(),
            part_lease: Duration::from_secs(30),
            lane_lease: Duration::from_secs(10),
            claim_batch: 32,
            poll_interval: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            fetch: FetchPolicy::default(),
            retention: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Drains the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    pub(crate) store: Store,
    pub(crate) channels: Arc<HashMap<String, ChannelHandle>>,
    pub(crate) http: UpstreamClient,
    pub(crate) fetcher: GuardedFetcher,
    pub(crate) tokens: TokenManager,
    pub(crate) members: Arc<MemberWindows>,
    pub(crate) policy: RetryPolicy,
    pub(crate) config: DispatchConfig,
    /// The in-memory state of every lane and egress group this replica has run.
    pub(crate) lanes: Arc<LaneStates>,
    /// Claim tokens of the parts this process holds (claimed, completion not yet written), with
    /// how many parts each still covers: their leases are renewed until written.
    pub(crate) held: Arc<Mutex<HashMap<String, usize>>>,
    /// Lane and egress-group paces, shared with the token manager (token fetches count too).
    pub(crate) paces: Arc<Paces>,
}

/// Why the dispatcher cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    /// Two channels share a credential but disagree on its limits (contract §2).
    #[error("{0}")]
    Config(String),
}

impl Dispatcher {
    /// A dispatcher over `store` for `channels`.
    pub fn new(
        store: Store,
        channels: Vec<ChannelHandle>,
        config: DispatchConfig,
    ) -> Result<Self, DispatchError> {
        check_shared_credentials(&channels)?;
        let http = UpstreamClient::new(config.connect_timeout, config.request_timeout)?;
        let fetcher = GuardedFetcher::new(config.fetch.clone())?;
        let paces = Arc::new(Paces::default());
        let tokens = TokenManager::new(store.clone(), http.clone(), config.replica_id.clone())
            .with_paces(paces.clone());
        Ok(Self {
            store,
            channels: Arc::new(channels.into_iter().map(|c| (c.name.clone(), c)).collect()),
            http,
            fetcher,
            tokens,
            members: Arc::default(),
            policy: config.policy.clone(),
            config,
            lanes: Arc::default(),
            held: Arc::default(),
            paces,
        })
    }

    /// The token manager (tests count its fetches).
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// This replica's id.
    pub fn replica_id(&self) -> &str {
        &self.config.replica_id
    }

    /// The in-memory state of the lanes this replica runs.
    pub fn lane_states(&self) -> Vec<(String, Arc<LaneState>)> {
        self.lanes.all()
    }

    /// The state of `info`'s lane, created on first use.
    pub(crate) fn lane_state(&self, info: &notify_store::LaneInfo) -> Arc<LaneState> {
        self.lanes
            .get(info, self.channels.get(&info.channel), &self.paces)
    }
}

/// Channel entries that share a credential share its limits and egress group; disagreeing
/// entries are a configuration error at start-up (contract §2).
fn check_shared_credentials(channels: &[ChannelHandle]) -> Result<(), DispatchError> {
    let mut seen: HashMap<String, &ChannelHandle> = HashMap::new();
    for c in channels {
        let cred = c.adapter.credential();
        if let Some(other) = seen.get(&cred) {
            if other.rate_limits() != c.rate_limits() || other.egress_group() != c.egress_group() {
                return Err(DispatchError::Config(format!(
                    "channels.{} and channels.{} share the credential {cred} but disagree on limits or egress_group",
                    other.name, c.name
                )));
            }
        } else {
            seen.insert(cred, c);
        }
    }
    Ok(())
}

/// What one [`Dispatcher::run_once`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundReport {
    /// Parts claimed and completed.
    pub completed: usize,
}
