//! `[channels.NAME]` settings (contract §2). A table parses into [`KindConfig`], one config
//! type per kind, each defined (with its documented defaults) in its kind's folder
//! (`welink/config.rs` …) and refusing any key its kind does not take, by name. Environment
//! overrides (`NOTIFY__CHANNELS__WELINK__CLIENT_ID`) are the same keys. Each adapter checks the
//! keys its kind requires when it is built.
//!
//! [`ChannelConfig`] is the flat form with every key of every kind: a builder for tests and
//! the sandbox (`ChannelConfig::of_kind(kind)`, then set fields), turned into the kind's type
//! by [`ChannelConfig::to_kind_config`] (refusing keys the kind does not take, as parsing does).

use notify_core::{ChannelKind, Secret};
use serde::{Deserialize, Serialize};

pub use crate::juzi::config::JuziConfig;
pub use crate::log::LogConfig;
pub use crate::wecom_app::config::WecomAppConfig;
pub use crate::wecom_workid::config::WorkIdConfig;
pub use crate::welink::config::WelinkConfig;
pub use crate::xiaowei::config::XiaoweiConfig;

/// One `[channels.NAME]` table as parsed: `kind` selects the kind's own config type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KindConfig {
    /// `kind = "welink"`.
    Welink(WelinkConfig),
    /// `kind = "xiaowei"`.
    Xiaowei(XiaoweiConfig),
    /// `kind = "wecom_workid"`.
    WecomWorkid(WorkIdConfig),
    /// `kind = "wecom_app"`.
    WecomApp(WecomAppConfig),
    /// `kind = "juzi"`.
    Juzi(JuziConfig),
    /// `kind = "log"`.
    Log(LogConfig),
}

impl KindConfig {
    /// The kind.
    pub fn kind(&self) -> ChannelKind {
        match self {
            Self::Welink(_) => ChannelKind::Welink,
            Self::Xiaowei(_) => ChannelKind::Xiaowei,
            Self::WecomWorkid(_) => ChannelKind::WecomWorkid,
            Self::WecomApp(_) => ChannelKind::WecomApp,
            Self::Juzi(_) => ChannelKind::Juzi,
            Self::Log(_) => ChannelKind::Log,
        }
    }

    /// The configured per-interface caps (`limits`), for the kinds that take the key.
    pub fn limits(&self) -> Option<RateLimits> {
        match self {
            Self::Welink(c) => c.limits,
            Self::Xiaowei(c) => c.limits,
            Self::WecomWorkid(c) => c.limits,
            Self::WecomApp(c) => c.limits,
            Self::Juzi(_) | Self::Log(_) => None,
        }
    }

    /// A Juzi channel's settings (the sidebar reads them).
    pub fn as_juzi(&self) -> Option<&JuziConfig> {
        match self {
            Self::Juzi(c) => Some(c),
            _ => None,
        }
    }

    /// A WeCom app channel's settings (the sidebar signs `ww.register` with its app).
    pub fn as_wecom_app(&self) -> Option<&WecomAppConfig> {
        match self {
            Self::WecomApp(c) => Some(c),
            _ => None,
        }
    }
}

/// What [`crate::build_channel`] builds from: a parsed table, or the flat test builder.
pub trait ToKindConfig {
    /// The table as its kind's config, or an error naming `channels.NAME.KEY`.
    fn to_kind_config(&self, name: &str) -> Result<KindConfig, ConfigError>;
}

impl ToKindConfig for KindConfig {
    fn to_kind_config(&self, _name: &str) -> Result<KindConfig, ConfigError> {
        Ok(self.clone())
    }
}

impl ToKindConfig for ChannelConfig {
    fn to_kind_config(&self, name: &str) -> Result<KindConfig, ConfigError> {
        ChannelConfig::to_kind_config(self, name)
    }
}

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

/// Every key of every kind in one flat table: the builder of tests and the sandbox, and the
/// form the gateway re-reads a table in to name the key of a bad value. Turn it into the kind's
/// type with [`to_kind_config`](Self::to_kind_config).
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

/// `map[key] = value` when the value is set.
fn put<T: Serialize>(
    map: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    v: Option<T>,
) {
    if let Some(v) = v {
        map.insert(key.to_string(), serde_json::json!(v));
    }
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

    /// The keys that are set, as a table (secrets in clear, for [`KindConfig`] to read back).
    fn table(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        let secret = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_string());
        put(&mut m, "base_url", self.base_url.as_ref());
        put(&mut m, "token_url", self.token_url.as_ref());
        put(
            &mut m,
            "token_auth",
            (self.token_auth != TokenAuth::default()).then_some(self.token_auth),
        );
        put(&mut m, "client_id", self.client_id.as_ref());
        put(&mut m, "client_secret", secret(&self.client_secret));
        put(&mut m, "public_acc_id", self.public_acc_id.as_ref());
        put(&mut m, "limits", self.limits);
        put(&mut m, "egress_group", self.egress_group.as_ref());
        put(&mut m, "owner", self.owner.as_ref());
        put(&mut m, "daily_quota", self.daily_quota);
        put(&mut m, "enterprise", self.enterprise.as_ref());
        put(&mut m, "company_id", self.company_id.as_ref());
        put(&mut m, "member_limits", self.member_limits);
        put(&mut m, "corp_id", self.corp_id.as_ref());
        put(&mut m, "corp_secret", secret(&self.corp_secret));
        put(&mut m, "agent_id", self.agent_id);
        put(&mut m, "safe", self.safe);
        put(&mut m, "markdown_max_bytes", self.markdown_max_bytes);
        put(&mut m, "allow_all", self.allow_all.then_some(true));
        put(&mut m, "auto_send", self.auto_send.then_some(true));
        put(&mut m, "jssdk_channel", self.jssdk_channel.as_ref());
        put(&mut m, "tenant", self.tenant.as_ref());
        m
    }

    /// The table as its kind's config type. Keys the kind does not take are left out: a
    /// builder may set every key (a fixture shared by kinds does); a configuration file may
    /// not (parsing [`KindConfig`] refuses them by name).
    pub fn to_kind_config(&self, name: &str) -> Result<KindConfig, ConfigError> {
        let kind = serde_json::json!(self.kind);
        let read = |mut table: serde_json::Map<String, serde_json::Value>| {
            table.insert("kind".into(), kind.clone());
            KindConfig::deserialize(serde_json::Value::Object(table))
        };
        let taken = self
            .table()
            .into_iter()
            .filter(|(key, value)| {
                read(serde_json::Map::from_iter([(key.clone(), value.clone())])).is_ok()
            })
            .collect();
        read(taken).map_err(|e| ConfigError::new(name, "kind", e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<KindConfig, String> {
        KindConfig::deserialize(v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_table_parses_into_its_kinds_type() {
        let c = parse(json!({
            "kind": "wecom_app", "corp_id": "corp", "corp_secret": "s", "agent_id": 1000002,
            "allow_all": true, "member_limits": {"per_minute": 10, "per_hour": 100}
        }))
        .unwrap();
        assert_eq!(c.kind(), ChannelKind::WecomApp);
        let app = c.as_wecom_app().unwrap();
        assert_eq!(app.corp_secret.as_ref().map(Secret::expose), Some("s"));
        assert!(app.allow_all);
        assert_eq!(app.member_limits.map(|m| m.per_hour), Some(100));
        let log = parse(json!({"kind": "log"})).unwrap();
        assert_eq!(log, KindConfig::Log(LogConfig {}));
    }

    #[test]
    fn a_key_the_kind_does_not_take_is_refused_by_name() {
        for (kind, key, value) in [
            ("wecom_workid", "allow_all", json!(true)),
            ("xiaowei", "owner", json!("Ops")),
            ("welink", "daily_quota", json!(5)),
            ("juzi", "limits", json!({"per_second": 1, "per_minute": 60})),
            ("log", "base_url", json!("http://x")),
            ("wecom_app", "egress_group", json!("g")),
        ] {
            let e = parse(json!({"kind": kind, key: value})).unwrap_err();
            assert!(e.contains(&format!("unknown field `{key}`")), "{kind}: {e}");
        }
        let e = parse(json!({"kind": "fax"})).unwrap_err();
        assert!(e.contains("unknown variant `fax`"), "{e}");
    }

    #[test]
    fn the_builder_gives_the_kinds_type_and_leaves_out_other_kinds_keys() {
        let mut c = ChannelConfig::of_kind(ChannelKind::Xiaowei);
        c.client_id = Some("app".into());
        c.client_secret = Some(Secret::new("s3cret"));
        c.daily_quota = Some(5);
        c.owner = Some("Ops".into());
        let KindConfig::Xiaowei(x) = c.to_kind_config("xw").unwrap() else {
            panic!("a xiaowei config");
        };
        assert_eq!(x.client_id.as_deref(), Some("app"));
        assert_eq!(x.client_secret.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(x.daily_quota, Some(5));
        assert_eq!(x.limits, None);

        let mut c = ChannelConfig::of_kind(ChannelKind::WecomWorkid);
        c.token_auth = TokenAuth::Form;
        c.safe = Some(1);
        let KindConfig::WecomWorkid(w) = c.to_kind_config("w").unwrap() else {
            panic!("a work-ID config");
        };
        assert_eq!((w.token_auth, w.safe), (TokenAuth::Form, Some(1)));
    }
}
