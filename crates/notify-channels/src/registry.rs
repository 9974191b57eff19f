//! Building adapters from configuration.

use std::sync::Arc;

use notify_core::ChannelKind;

use crate::config::{
    ConfigError, JuziConfig, KindConfig, LogConfig, MemberLimits, RateLimits, ToKindConfig,
    WecomAppConfig, WelinkConfig, WorkIdConfig, XiaoweiConfig,
};
use crate::juzi::JuziChannel;
use crate::log::LogChannel;
use crate::support::wecom::MEMBER_LIMITS;
use crate::wecom_app::WecomAppChannel;
use crate::wecom_workid::WorkIdChannel;
use crate::welink::WelinkChannel;
use crate::xiaowei::XiaoweiChannel;
use crate::Channel;
use notify_core::Secret;

/// A configured channel: its name, settings and adapter.
#[derive(Debug, Clone)]
pub struct ChannelHandle {
    /// The operator's name for it (`[channels.NAME]`).
    pub name: String,
    /// Its settings, as its kind's config type.
    pub config: KindConfig,
    /// The adapter.
    pub adapter: Arc<dyn Channel>,
}

impl ChannelHandle {
    /// The kind.
    pub fn kind(&self) -> ChannelKind {
        self.config.kind()
    }

    /// Whether agents send this channel's messages from the sidebar page (Juzi), so the
    /// gateway serves the sidebar for it.
    pub fn uses_sidebar(&self) -> bool {
        self.config.as_juzi().is_some()
    }

    /// Whether this channel can sign `ww.register` for a sidebar (WeCom app channels, the
    /// target of a Juzi channel's `jssdk_channel`).
    pub fn signs_jssdk(&self) -> bool {
        self.config.as_wecom_app().is_some()
    }

    /// Per-interface caps: the configured ones, or the kind's documented defaults.
    pub fn rate_limits(&self) -> Option<RateLimits> {
        self.config.limits().or(self.adapter.default_rate_limits())
    }

    /// The egress group of the channel's calls when its upstream caps calls per source IP
    /// (WeLink's host: 3000 per 20 s), `None` for other hosts.
    pub fn egress_group(&self) -> Option<String> {
        self.adapter.egress_group()
    }

    /// Per-member caps (WeCom kinds: documented 30/min and 1000/h).
    pub fn member_limits(&self) -> Option<MemberLimits> {
        self.adapter.member_limits()
    }

    /// The daily quota's size (Xiaowei: documented 100 per enterprise per day).
    pub fn daily_quota(&self) -> Option<u32> {
        self.adapter.daily_quota().map(|q| q.per_day)
    }

    /// The key of the quota days this channel's calls count against (Xiaowei: one per WeLink
    /// enterprise, see [`crate::xiaowei::quota_key`]). `None` for kinds without a quota.
    pub fn quota_key(&self) -> Option<String> {
        self.adapter.daily_quota().map(|q| q.key)
    }
}

/// Channels that share a quota day must agree on its size: a smaller `daily_quota` would only
/// bind the channel that names it, and the day would still reach the larger one.
pub fn check_shared_quotas(handles: &[ChannelHandle]) -> Result<(), ConfigError> {
    let mut seen: std::collections::HashMap<String, (&str, u32)> = Default::default();
    for h in handles {
        let (Some(key), Some(quota)) = (h.quota_key(), h.daily_quota()) else {
            continue;
        };
        match seen.get(&key) {
            Some((other, q)) if *q != quota => {
                return Err(ConfigError::new(
                    &h.name,
                    "daily_quota",
                    format!(
                        "is {quota}, but channel {other} of the same enterprise ({}) says {q}: one enterprise has one quota",
                        key.trim_start_matches("welink:")
                    ),
                ))
            }
            Some(_) => {}
            None => {
                seen.insert(key, (&h.name, quota));
            }
        }
    }
    Ok(())
}

/// WeCom's official API host.
pub use crate::wecom_app::config::BASE_URL as WECOM_BASE_URL;
/// WeLink's official API root; Xiaowei is on the same host.
pub use crate::welink::config::BASE_URL as WELINK_BASE_URL;

/// The sandbox's channels, one of each kind, all on the simulator at `host` (`http://ADDR`),
/// by the names the sandbox pages and the first-message example use.
pub fn sandbox_channels(host: &str) -> Vec<(&'static str, KindConfig)> {
    let welink = WelinkConfig {
        base_url: Some(format!("{host}/api")),
        client_id: Some("sandbox-welink".into()),
        client_secret: Some(Secret::new("sandbox-secret")),
        owner: Some("Notify".into()),
        ..Default::default()
    };
    let xiaowei = XiaoweiConfig {
        base_url: welink.base_url.clone(),
        client_id: welink.client_id.clone(),
        client_secret: welink.client_secret.clone(),
        ..Default::default()
    };
    let workid = WorkIdConfig {
        base_url: Some(host.to_string()),
        token_url: Some(format!("{host}/oauth/token")),
        client_id: Some("sandbox-workid".into()),
        client_secret: Some(Secret::new("sandbox-secret")),
        member_limits: Some(MEMBER_LIMITS),
        ..Default::default()
    };
    let wecom = WecomAppConfig {
        base_url: Some(host.to_string()),
        corp_id: Some("sandbox-corp".into()),
        corp_secret: Some(Secret::new("sandbox-secret")),
        agent_id: Some(1_000_002),
        ..Default::default()
    };
    let juzi = JuziConfig {
        base_url: Some(host.to_string()),
        jssdk_channel: Some("wecom".into()),
        ..Default::default()
    };
    vec![
        ("welink", KindConfig::Welink(welink)),
        ("xiaowei", KindConfig::Xiaowei(xiaowei)),
        ("workid", KindConfig::WecomWorkid(workid)),
        ("wecom", KindConfig::WecomApp(wecom)),
        ("juzi", KindConfig::Juzi(juzi)),
        ("log", KindConfig::Log(LogConfig::default())),
    ]
}

/// Builds the adapter of `[channels.NAME]` (a parsed [`KindConfig`], or the flat
/// [`ChannelConfig`](crate::ChannelConfig) builder), checking the keys its kind needs.
pub fn build_channel<C: ToKindConfig + ?Sized>(
    name: &str,
    config: &C,
) -> Result<ChannelHandle, ConfigError> {
    let config = config.to_kind_config(name)?;
    let adapter: Arc<dyn Channel> = match &config {
        KindConfig::Log(_) => Arc::new(LogChannel::new(name)),
        KindConfig::Welink(c) => Arc::new(WelinkChannel::from_config(name, c)?),
        KindConfig::Xiaowei(c) => Arc::new(XiaoweiChannel::from_config(name, c)?),
        KindConfig::WecomWorkid(c) => Arc::new(WorkIdChannel::from_config(name, c)?),
        KindConfig::WecomApp(c) => Arc::new(WecomAppChannel::from_config(name, c)?),
        KindConfig::Juzi(c) => Arc::new(JuziChannel::from_config(name, c)?),
    };
    Ok(ChannelHandle {
        name: name.to_string(),
        config,
        adapter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChannelConfig;

    fn cfg(kind: ChannelKind) -> ChannelConfig {
        ChannelConfig::of_kind(kind)
    }

    #[test]
    fn missing_keys_are_named() {
        let e = build_channel("wl", &cfg(ChannelKind::Welink)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "channels.wl.client_id: is required for this kind"
        );
        let mut c = cfg(ChannelKind::Welink);
        c.client_id = Some("id".into());
        let e = build_channel("wl", &c).unwrap_err();
        assert_eq!(e.key, "client_secret");

        let e = build_channel("w", &cfg(ChannelKind::WecomWorkid)).unwrap_err();
        assert_eq!(e.key, "base_url");
        let mut c = cfg(ChannelKind::WecomWorkid);
        c.base_url = Some("http://x".into());
        assert_eq!(build_channel("w", &c).unwrap_err().key, "token_url");

        let mut c = cfg(ChannelKind::WecomApp);
        c.corp_id = Some("corp".into());
        c.corp_secret = Some(Secret::new("s"));
        assert_eq!(build_channel("a", &c).unwrap_err().key, "agent_id");

        assert_eq!(
            build_channel("j", &cfg(ChannelKind::Juzi)).unwrap_err().key,
            "base_url"
        );
    }

    #[test]
    fn allow_all_is_for_wecom_app_only() {
        // A file's table of another kind is refused by name (parsing, see config.rs); the
        // builder leaves the key out, so the channel never sends to everyone.
        let mut c = cfg(ChannelKind::WecomWorkid);
        c.base_url = Some("http://x".into());
        c.token_url = Some("http://x/token".into());
        c.client_id = Some("id".into());
        c.client_secret = Some(Secret::new("s"));
        c.allow_all = true;
        assert!(build_channel("w", &c).is_ok());
        let mut c = cfg(ChannelKind::WecomApp);
        c.corp_id = Some("corp".into());
        c.corp_secret = Some(Secret::new("s"));
        c.agent_id = Some(1000002);
        c.allow_all = true;
        assert!(build_channel("wecom", &c).is_ok());
    }

    #[test]
    fn welink_and_xiaowei_share_a_credential() {
        let mut c = cfg(ChannelKind::Welink);
        c.client_id = Some("id1".into());
        c.client_secret = Some(Secret::new("s"));
        let w = build_channel("welink", &c).unwrap();
        c.kind = ChannelKind::Xiaowei;
        let x = build_channel("xiaowei", &c).unwrap();
        assert_eq!(w.adapter.credential(), "welink:id1");
        assert_eq!(x.adapter.credential(), w.adapter.credential());
        let t = w.adapter.token_request().unwrap();
        assert_eq!(
            t.url,
            "https://open.welink.huaweicloud.com/api/auth/v2/tickets"
        );
    }

    fn xiaowei(client_id: &str, enterprise: Option<&str>, quota: Option<u32>) -> ChannelConfig {
        let mut c = cfg(ChannelKind::Xiaowei);
        c.client_id = Some(client_id.into());
        c.client_secret = Some(Secret::new("s"));
        c.enterprise = enterprise.map(str::to_string);
        c.daily_quota = quota;
        c
    }

    #[test]
    fn the_quota_belongs_to_the_enterprise() {
        let a = build_channel("a", &xiaowei("app1", Some("acme"), None)).unwrap();
        let b = build_channel("b", &xiaowei("app2", Some("acme"), None)).unwrap();
        assert_ne!(a.adapter.credential(), b.adapter.credential());
        assert_eq!(a.quota_key().as_deref(), Some("welink:acme"));
        assert_eq!(a.quota_key(), b.quota_key());
        // Unset (or blank): the client_id names the enterprise, the key the credential's.
        let c = build_channel("c", &xiaowei("app3", None, None)).unwrap();
        assert_eq!(c.quota_key(), Some(c.adapter.credential()));
        let d = build_channel("d", &xiaowei("app4", Some(" "), None)).unwrap();
        assert_eq!(d.quota_key().as_deref(), Some("welink:app4"));
        // Kinds without a quota have no key.
        let mut w = xiaowei("app1", None, None);
        w.kind = ChannelKind::Welink;
        assert_eq!(build_channel("w", &w).unwrap().quota_key(), None);
    }

    #[test]
    fn channels_of_one_enterprise_must_agree_on_its_quota() {
        let a = build_channel("a", &xiaowei("app1", Some("acme"), Some(100))).unwrap();
        let b = build_channel("b", &xiaowei("app2", Some("acme"), None)).unwrap();
        let c = build_channel("c", &xiaowei("app3", Some("other"), Some(5))).unwrap();
        assert!(check_shared_quotas(&[a.clone(), b.clone(), c]).is_ok());
        let b50 = build_channel("b", &xiaowei("app2", Some("acme"), Some(50))).unwrap();
        let e = check_shared_quotas(&[a, b50]).unwrap_err();
        assert_eq!(e.channel, "b");
        assert_eq!(e.key, "daily_quota");
    }

    #[test]
    fn each_kind_reads_its_answers_message_and_says_when_the_token_goes() {
        use crate::{PartCall, UpstreamAnswer};
        let mut c = cfg(ChannelKind::Welink);
        c.client_id = Some("id1".into());
        c.client_secret = Some(Secret::new("s"));
        let welink = build_channel("welink", &c).unwrap();
        let body = serde_json::json!({});
        let call = PartCall {
            op: notify_core::PartOp::Send,
            interface: "/x",
            body: &body,
            recipients: &[],
            token: Some("t"),
            dependency_id: None,
            media: None,
            context: &body,
            now_ms: 0,
            attempts: 0,
        };
        let answer = |http_status: u16, json: serde_json::Value| UpstreamAnswer {
            http_status,
            body: json.to_string().into_bytes(),
        };
        // WeLink's missing permission: the upstream's words kept, the token dropped.
        let s = welink.adapter.settle(
            &call,
            &answer(200, serde_json::json!({"code": "501", "message": "无权限"})),
        );
        assert_eq!(s.upstream_message.as_deref(), Some("无权限"));
        assert!(s.drop_token);
        let s = welink.adapter.settle(
            &call,
            &answer(200, serde_json::json!({"code": "0", "message": "ok"})),
        );
        assert!(!s.drop_token);

        let mut c = cfg(ChannelKind::WecomApp);
        c.corp_id = Some("corp".into());
        c.corp_secret = Some(Secret::new("s"));
        c.agent_id = Some(1000002);
        let wecom = build_channel("wecom", &c).unwrap();
        let s = wecom.adapter.settle(
            &call,
            &answer(
                200,
                serde_json::json!({"errcode": 42001, "errmsg": "access_token expired"}),
            ),
        );
        assert_eq!(s.upstream_message.as_deref(), Some("access_token expired"));
        assert!(s.drop_token, "a refused token always goes");
        // No message field: the outcome's own message.
        let s = wecom
            .adapter
            .settle(&call, &answer(503, serde_json::json!({})));
        assert!(s.upstream_message.is_some_and(|m| !m.is_empty()));
        assert!(!s.drop_token);
    }

    #[test]
    fn wecom_defaults_to_the_official_host() {
        let mut c = cfg(ChannelKind::WecomApp);
        c.corp_id = Some("corp".into());
        c.corp_secret = Some(Secret::new("s"));
        c.agent_id = Some(1000002);
        let a = build_channel("wecom", &c).unwrap();
        assert_eq!(a.adapter.credential(), "wecom_app:corp:1000002");
        assert_eq!(
            a.adapter.token_request().unwrap().url,
            "https://qyapi.weixin.qq.com/cgi-bin/gettoken"
        );
    }
}
