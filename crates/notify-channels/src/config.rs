//! `[channels.NAME]` settings (contract §2). One flat table for every kind, so environment
//! overrides (`NOTIFY__CHANNELS__WELINK__CLIENT_ID`) work the same everywhere; each adapter
//! checks the keys its kind needs when it is built.

use notify_core::{ChannelKind, Secret};
use serde::{Deserialize, Serialize};

/// Per-interface caps of one credential (WeLink: 40/s and 1500/min per client_id per interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Calls in any 1 s window.
    pub per_second: u32,
    /// Calls in any 60 s window.
    pub per_minute: u32,
}

/// Per-member caps (WeCom drops messages over them silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberLimits {
    /// Messages to one member in any 60 s.
    pub per_minute: u32,
    /// Messages to one member in any hour.
    pub per_hour: u32,
}

/// A daily quota: its size and the key of the days it is counted in (channels with one key
/// share the count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyQuota {
    /// Calls per Asia/Shanghai day.
    pub per_day: u32,
    /// The key of its days, e.g. `welink:<enterprise>`.
    pub key: String,
}

/// How an OAuth2 client sends its credentials to `token_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// HTTP Basic (RFC 6749 §2.3.1's preferred way).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body, for servers that require it.
    Form,
}

/// One `[channels.NAME]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Which adapter.
    pub kind: ChannelKind,
    /// Upstream host (replaces the official one; tests point it at the simulator).
    #[serde(default)]
    pub base_url: Option<String>,
    /// OAuth2 token endpoint (work-ID platform).
    #[serde(default)]
    pub token_url: Option<String>,
    /// How the OAuth2 client authenticates at `token_url`.
    #[serde(default)]
    pub token_auth: TokenAuth,
    /// WeLink / OAuth2 client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// WeLink / OAuth2 client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// WeLink public account; empty: the notification center.
    #[serde(default)]
    pub public_acc_id: Option<String>,
    /// WeLink per-interface caps.
    #[serde(default)]
    pub limits: Option<RateLimits>,
    /// Channels leaving through one IP share 3000 WeLink calls / 20 s.
    #[serde(default)]
    pub egress_group: Option<String>,
    /// WeLink `msgOwner` when a message has none (≤ 18 bytes).
    #[serde(default)]
    pub owner: Option<String>,
    /// Xiaowei calls per enterprise per Asia/Shanghai day.
    #[serde(default)]
    pub daily_quota: Option<u32>,
    /// Xiaowei: the WeLink enterprise whose daily quota this channel's pushes count against
    /// (upstream counts 100 per enterprise, not per app). Channels naming the same enterprise
    /// share one quota day; unset, the enterprise is named by the channel's `client_id`.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Work-ID platform default `companyId`.
    #[serde(default)]
    pub company_id: Option<String>,
    /// WeCom per-member caps.
    #[serde(default)]
    pub member_limits: Option<MemberLimits>,
    /// WeCom corp id.
    #[serde(default)]
    pub corp_id: Option<String>,
    /// WeCom app secret.
    #[serde(default)]
    pub corp_secret: Option<Secret>,
    /// WeCom app id.
    #[serde(default)]
    pub agent_id: Option<i64>,
    /// WeCom `safe` default (0 or 1).
    #[serde(default)]
    pub safe: Option<u8>,
    /// WeCom app markdown limit in bytes (2048 for app messages; configurable, see
    /// UPSTREAM-FACTS).
    #[serde(default)]
    pub markdown_max_bytes: Option<usize>,
    /// WeCom app: whether a target may send to `users: ["@all"]`, every member of the app.
    /// Off by default, so that one caller's typo or injection cannot reach the whole company.
    #[serde(default)]
    pub allow_all: bool,
    /// Juzi: send waiting messages without a click.
    #[serde(default)]
    pub auto_send: bool,
    /// Juzi: the `wecom_app` channel that signs `ww.register` in native WeCom.
    #[serde(default)]
    pub jssdk_channel: Option<String>,
    /// Juzi: the only tenant whose waiting messages this channel's sidebar shows and sends
    /// (unset: every tenant's).
    #[serde(default)]
    pub tenant: Option<String>,
}

impl ChannelConfig {
    /// A config of `kind` with every optional key unset.
    pub fn of_kind(kind: ChannelKind) -> Self {
        Self {
            kind,
            base_url: None,
            token_url: None,
            token_auth: TokenAuth::default(),
            client_id: None,
            client_secret: None,
            public_acc_id: None,
            limits: None,
            egress_group: None,
            owner: None,
            daily_quota: None,
            enterprise: None,
            company_id: None,
            member_limits: None,
            corp_id: None,
            corp_secret: None,
            agent_id: None,
            safe: None,
            markdown_max_bytes: None,
            allow_all: false,
            auto_send: false,
            jssdk_channel: None,
            tenant: None,
        }
    }

    /// A required string key, or an error naming `channels.NAME.KEY`.
    pub fn require<'a>(
        name: &str,
        key: &str,
        value: &'a Option<String>,
    ) -> Result<&'a str, ConfigError> {
        match value.as_deref() {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ConfigError::new(name, key, "is required for this kind")),
        }
    }
}

/// A channel table that cannot work, naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channels.{channel}.{key}: {message}")]
pub struct ConfigError {
    /// The channel name.
    pub channel: String,
    /// The key.
    pub key: String,
    /// Why.
    pub message: String,
}

impl ConfigError {
    /// An error on `channels.CHANNEL.KEY`.
    pub fn new(channel: &str, key: &str, message: impl Into<String>) -> Self {
        Self {
            channel: channel.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}
