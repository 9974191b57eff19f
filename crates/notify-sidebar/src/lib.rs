//! The Juzi sidebar (contract §5, `001_844017fd58a1860e.txt`): a WeCom customer chat cannot be
//! written to from a server, so a Juzi delivery waits (`awaiting_agent`) until an agent's
//! sidebar, open on that chat, sends it with `wx.invoke('sendChatMessage', …)` and reports back.
//!
//! This crate serves, under `/sidebar/`:
//! - the page (static HTML, JS and CSS compiled in; no front-end build),
//! - the Juzi OAuth sign-in (`/sidebar/login` → Juzi → `/sidebar/oauth/callback`), which opens a
//!   signed session cookie,
//! - the sidebar API (`/sidebar/api/...`): the open chat's waiting deliveries, the agent's
//!   report of each send, and the `ww.register` signatures for the native WeCom client.
//!
//! The binary merges [`router`] into its main router when a `juzi` channel is configured.

mod api;
mod error;
mod jssdk;
mod oauth;
mod page;
mod preview;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use notify_channels::ChannelHandle;
use notify_store::Store;
use notify_upstream::http::UpstreamClient;
use notify_upstream::tokens::TokenManager;

pub use error::SidebarError;
pub use jssdk::{jsapi_signature, JsapiSignature};

/// Settings of the sidebar that are not per channel.
#[derive(Debug, Clone)]
pub struct SidebarConfig {
    /// Where browsers reach the gateway (`server.public_url`, or `http://{listen}`), without a
    /// trailing `/`: the OAuth `redirect_uri` is built from it, cookies are `Secure` when it is
    /// https, and jsapi signatures are given only for pages under it.
    pub public_url: String,
    /// HMAC key of the session cookie (`server.session_secret`). Replicas must share it.
    pub session_secret: Vec<u8>,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// How long an OAuth `state` may wait for its callback.
    pub state_ttl: Duration,
    /// Timeout of the sidebar's own upstream calls (code exchange, tickets).
    pub upstream_timeout: Duration,
    /// Sandbox only: the origin of the simulator's Juzi chats page (`http://127.0.0.1:PORT`),
    /// which embeds this page and plays juzi-helper for it. When set, the page loads
    /// `/sidebar/sandbox-bridge.js`, which asks that origin for `wx.getCurChatInfo` and
    /// `sendChatMessage` when framed by it. `None` outside the sandbox: no bridge is served.
    pub sandbox_parent: Option<String>,
    /// Who may show the sidebar in a frame (`server.sidebar_frame_ancestors`, CSP
    /// `frame-ancestors` sources). Empty: the gateway itself and the origin of each Juzi
    /// channel's `base_url` (see [`page`]'s security headers).
    pub frame_ancestors: Vec<String>,
}

impl SidebarConfig {
    /// Defaults for `public_url` and `session_secret`: 12 h sessions, 10 min states, 10 s calls.
    pub fn new(public_url: impl Into<String>, session_secret: impl Into<Vec<u8>>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_string(),
            session_secret: session_secret.into(),
            session_ttl: Duration::from_secs(12 * 3600),
            state_ttl: Duration::from_secs(600),
            upstream_timeout: Duration::from_secs(10),
            sandbox_parent: None,
            frame_ancestors: Vec::new(),
        }
    }

    /// Cookies get `Secure` when the page is served over https.
    pub fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// One `juzi` channel as the sidebar uses it.
#[derive(Debug, Clone)]
pub struct SidebarChannel {
    /// Channel name (`[channels.NAME]`).
    pub name: String,
    /// Juzi's regional host: `/oauth/connect/authorize`, `/api/v1/oauth/getUserInfo`.
    pub base_url: String,
    /// Send waiting messages without a click.
    pub auto_send: bool,
    /// Only this tenant's messages (unset: every tenant's).
    pub tenant: Option<String>,
    /// Only agents of this corp may sign in (unset: any).
    pub corp_id: Option<String>,
    /// The `wecom_app` channel that signs `ww.register` (`jssdk_channel`).
    pub jssdk: Option<ChannelHandle>,
}

/// Everything the sidebar's handlers share. Cheap to clone.
#[derive(Clone)]
pub struct SidebarState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub channels: Vec<SidebarChannel>,
    pub config: SidebarConfig,
    pub http: reqwest::Client,
    pub tickets: jssdk::TicketCache,
}

impl SidebarState {
    /// The sidebar of the `juzi` channels among `channels`; `Ok(None)` when there is none. A
    /// `jssdk_channel` that names no `wecom_app` channel is a configuration error.
    pub fn from_channels(
        store: Store,
        channels: &[ChannelHandle],
        config: SidebarConfig,
    ) -> Result<Option<Self>, String> {
        let mut juzi = Vec::new();
        for (h, settings) in channels
            .iter()
            .filter_map(|h| h.config.as_juzi().map(|settings| (h, settings)))
        {
            let jssdk = match settings.jssdk_channel.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(name) => Some(
                    channels
                        .iter()
                        .find(|c| c.name == name && c.signs_jssdk())
                        .cloned()
                        .ok_or_else(|| {
                            format!(
                                "channels.{}.jssdk_channel: {name:?} is not a wecom_app channel",
                                h.name
                            )
                        })?,
                ),
            };
            juzi.push(SidebarChannel {
                name: h.name.clone(),
                base_url: settings
                    .base_url
                    .clone()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_string(),
                auto_send: settings.auto_send,
                tenant: nonblank(&settings.tenant),
                corp_id: nonblank(&settings.corp_id),
                jssdk,
            });
        }
        if juzi.is_empty() {
            return Ok(None);
        }
        Self::new(store, juzi, config).map(Some)
    }

    /// A sidebar for the given channels.
    pub fn new(
        store: Store,
        channels: Vec<SidebarChannel>,
        config: SidebarConfig,
    ) -> Result<Self, String> {
        if config.session_secret.is_empty() {
            return Err("the sidebar needs a session secret".into());
        }
        // No redirects: the code exchange and ticket calls must not be bounced elsewhere.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(config.upstream_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("sidebar http client: {e}"))?;
        let upstream = UpstreamClient::new(Duration::from_secs(3), config.upstream_timeout)
            .map_err(|e| format!("sidebar http client: {e}"))?;
        let owner = format!("sidebar-{}", ulid::Ulid::new());
        let tokens = TokenManager::new(store.clone(), upstream, owner.clone());
        let tickets = jssdk::TicketCache::new(store.clone(), http.clone(), tokens, owner);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                channels,
                config,
                http,
                tickets,
            }),
        })
    }

    /// The channel named `name`, or the first one when no name is given.
    pub(crate) fn channel(&self, name: Option<&str>) -> Option<&SidebarChannel> {
        match name.filter(|n| !n.is_empty()) {
            Some(n) => self.inner.channels.iter().find(|c| c.name == n),
            None => self.inner.channels.first(),
        }
    }
}

fn nonblank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The sidebar's routes, all under `/sidebar`.
pub fn router(state: SidebarState) -> Router {
    let headers = page::SecurityHeaders::of(&state);
    Router::new()
        .route("/sidebar", get(page::to_index))
        .route("/sidebar/", get(page::index))
        .route("/sidebar/sidebar.js", get(page::script))
        .route("/sidebar/sidebar.css", get(page::style))
        .route("/sidebar/sandbox-bridge.js", get(page::sandbox_bridge))
        .route("/sidebar/login", get(oauth::login))
        .route("/sidebar/oauth/callback", get(oauth::callback))
        .route("/sidebar/api/session", get(api::session))
        .route("/sidebar/api/pending", get(api::pending))
        .route("/sidebar/api/deliveries/{id}/result", post(api::result))
        .route("/sidebar/api/jsapi-signature", get(api::jsapi_signature))
        .layer(axum::middleware::from_fn_with_state(
            headers,
            page::security_headers,
        ))
        .with_state(state)
}
