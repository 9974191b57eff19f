//! `[channels.NAME]` of kind `welink`: its keys and their documented defaults.

use notify_core::Secret;
use serde::{Deserialize, Serialize};

use crate::config::RateLimits;

/// WeLink's official API root (000_… line 440); Xiaowei is on the same host.
pub const BASE_URL: &str = "https://open.welink.huaweicloud.com/api";

/// The egress group of a WeLink-host channel whose `egress_group` is unset.
pub const DEFAULT_EGRESS_GROUP: &str = "default";

/// A `welink` channel's table. Every key is optional to serde; the adapter names the required
/// ones (`client_id`, `client_secret`) when it is built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WelinkConfig {
    /// Upstream root, ending in `/api`; default [`BASE_URL`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// The WeLink app's client id (required).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The WeLink app's secret (required).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Public account; empty: the notification center.
    #[serde(default)]
    pub public_acc_id: Option<String>,
    /// Per-interface caps; default WeLink's documented 40/s and 1500/min
    /// ([`crate::welink::RATE_LIMITS`]).
    #[serde(default)]
    pub limits: Option<RateLimits>,
    /// Channels leaving through one IP share 3000 calls / 20 s; default
    /// [`DEFAULT_EGRESS_GROUP`].
    #[serde(default)]
    pub egress_group: Option<String>,
    /// `msgOwner` when a message has none (≤ 18 bytes); no default (422 `/owner` then).
    #[serde(default)]
    pub owner: Option<String>,
}
