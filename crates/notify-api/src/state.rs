//! What every handler shares.

use std::collections::HashMap;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use notify_channels::ChannelHandle;
use notify_store::Store;

use crate::auth::Clients;
use crate::body_budget::BodyBudget;
use crate::config::ApiConfig;
use crate::hooks::Hooks;
use crate::ingress::group_commit::GroupCommitter;

/// The API's shared state: the store, the channels, the callers and the group committer.
/// Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    channels: Vec<ChannelHandle>,
    by_name: HashMap<String, usize>,
    config: ApiConfig,
    clients: Clients,
    metrics: Option<PrometheusHandle>,
    committer: GroupCommitter,
    body_budget: BodyBudget,
    hooks: Hooks,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.0.store)
            .field("channels", &self.0.by_name.keys().collect::<Vec<_>>())
            .field("clients", &self.0.clients)
            .finish()
    }
}

impl AppState {
    /// The state of one API. The group committer's task starts with the first message, on the
    /// Tokio runtime that serves it, and ends when the last clone of the state is dropped.
    pub fn new(
        store: Store,
        channels: Vec<ChannelHandle>,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let by_name = channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let clients = Clients::new(config.clients.clone());
        if clients.is_empty() {
            tracing::warn!("no API clients configured: every /v1 request will be refused with 401");
        }
        let committer = GroupCommitter::new(store.clone(), config.commit_batch_max);
        let body_budget = BodyBudget::new(config.max_inflight_body_bytes);
        // The binary checks the hooks before it gets here and stops on a bad one (exit 78);
        // an embedder that skips the check loses its hooks (404), loudly.
        let hooks = Hooks::new(&config.hooks).unwrap_or_else(|e| {
            tracing::error!(error = %e, "bad [hooks] configuration: no hook is served");
            Hooks::default()
        });
        Self(Arc::new(Inner {
            hooks,
            body_budget,
            store,
            channels,
            by_name,
            config,
            clients,
            metrics,
            committer,
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The settings.
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    /// Every configured channel.
    pub fn channels(&self) -> &[ChannelHandle] {
        &self.0.channels
    }

    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelHandle> {
        self.0.by_name.get(name).map(|&i| &self.0.channels[i])
    }

    /// The callers.
    pub(crate) fn clients(&self) -> &Clients {
        &self.0.clients
    }

    /// The Prometheus handle, when metrics are on.
    pub(crate) fn metrics(&self) -> Option<&PrometheusHandle> {
        self.0.metrics.as_ref()
    }

    /// The bytes request bodies in flight may hold together.
    pub fn body_budget(&self) -> &BodyBudget {
        &self.0.body_budget
    }

    /// The alert sources.
    pub fn hooks(&self) -> &Hooks {
        &self.0.hooks
    }

    /// The group committer.
    pub(crate) fn committer(&self) -> &GroupCommitter {
        &self.0.committer
    }
}
