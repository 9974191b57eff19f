//! `[channels.NAME]` of kind `wecom_app`: its keys and their documented defaults.

use notify_core::Secret;
use serde::{Deserialize, Serialize};

use crate::config::{MemberLimits, RateLimits};

/// WeCom's official API host (UPSTREAM-FACTS line 8).
pub const BASE_URL: &str = "https://qyapi.weixin.qq.com";

/// A `wecom_app` channel's table: one self-built app of one corp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomAppConfig {
    /// Upstream host; default [`BASE_URL`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// The corp id (required).
    #[serde(default)]
    pub corp_id: Option<String>,
    /// The app's secret (required).
    #[serde(default)]
    pub corp_secret: Option<Secret>,
    /// The app's AgentId (required).
    #[serde(default)]
    pub agent_id: Option<i64>,
    /// Per-member caps; default WeCom's documented 30/min and 1000/h
    /// ([`crate::support::wecom::MEMBER_LIMITS`]).
    #[serde(default)]
    pub member_limits: Option<MemberLimits>,
    /// Default `safe` of sends (0 or 1); default 0.
    #[serde(default)]
    pub safe: Option<u8>,
    /// Markdown limit in UTF-8 bytes; default 2048 ([`crate::support::wecom::MARKDOWN_MAX`],
    /// app messages; see UPSTREAM-FACTS).
    #[serde(default)]
    pub markdown_max_bytes: Option<usize>,
    /// Whether a target may send to `users: ["@all"]`, every member of the app; default false,
    /// so that one caller's typo or injection cannot reach the whole company.
    #[serde(default)]
    pub allow_all: bool,
    /// Per-interface caps; default none (WeCom's company-wide caps are far above the member
    /// caps).
    #[serde(default)]
    pub limits: Option<RateLimits>,
}
