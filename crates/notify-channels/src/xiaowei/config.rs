//! `[channels.NAME]` of kind `xiaowei`: its keys and their documented defaults.

use notify_core::Secret;
use serde::{Deserialize, Serialize};

use crate::config::RateLimits;

/// Xiaowei's documented quota: 100 pushes per enterprise per day (000_… lines 750 and 1523).
pub const DAILY_QUOTA: u32 = 100;

/// A `xiaowei` channel's table: a WeLink app's credential (usually the `welink` channel's, whose
/// token, lanes and egress group it then shares) and the enterprise's daily quota.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XiaoweiConfig {
    /// Upstream root, ending in `/api`; default WeLink's ([`crate::welink::config::BASE_URL`]).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The WeLink app's client id (required).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The WeLink app's secret (required).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Per-interface caps; default WeLink's documented 40/s and 1500/min.
    #[serde(default)]
    pub limits: Option<RateLimits>,
    /// The egress group (shared with WeLink's host); default `default`.
    #[serde(default)]
    pub egress_group: Option<String>,
    /// Pushes per enterprise per Asia/Shanghai day; default [`DAILY_QUOTA`].
    #[serde(default)]
    pub daily_quota: Option<u32>,
    /// The WeLink enterprise whose daily quota this channel's pushes count against (upstream
    /// counts 100 per enterprise, not per app). Channels naming the same enterprise share one
    /// quota day; unset (or blank), the enterprise is named by the channel's `client_id`.
    #[serde(default)]
    pub enterprise: Option<String>,
}
