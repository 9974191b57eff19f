//! The kinds of upstream channel the gateway speaks to.

use serde::{Deserialize, Serialize};

/// The upstream protocol a configured channel speaks. A channel *name* (`welink`, `ops-wecom`…)
/// is the operator's; the *kind* picks the adapter. Its `Default` is `Log`, the kind that
/// reaches no upstream, so a row model built by default (`NewDelivery`, which tests fill in
/// with `..Default::default()`) never sends anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// WeLink public-account / notification-center messages.
    Welink,
    /// WeLink Xiaowei strong reminders.
    Xiaowei,
    /// WeCom messages by employee work ID through a middle platform.
    WecomWorkid,
    /// WeCom app messages (`/cgi-bin/message/send`).
    WecomApp,
    /// The Juzi WeCom sidebar: sent by an agent's sidebar page.
    Juzi,
    /// Writes deliveries to the log and answers "sent": lets the whole path run without an upstream.
    #[default]
    Log,
}

impl ChannelKind {
    /// The name used in config, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Welink => "welink",
            ChannelKind::Xiaowei => "xiaowei",
            ChannelKind::WecomWorkid => "wecom_workid",
            ChannelKind::WecomApp => "wecom_app",
            ChannelKind::Juzi => "juzi",
            ChannelKind::Log => "log",
        }
    }

    /// Parses the config / database name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "welink" => ChannelKind::Welink,
            "xiaowei" => ChannelKind::Xiaowei,
            "wecom_workid" => ChannelKind::WecomWorkid,
            "wecom_app" => ChannelKind::WecomApp,
            "juzi" => ChannelKind::Juzi,
            "log" => ChannelKind::Log,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
