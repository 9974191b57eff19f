//! `[channels.NAME]` of kind `wecom_workid`: its keys and their documented defaults.

use notify_core::Secret;
use serde::{Deserialize, Serialize};

use crate::config::{MemberLimits, RateLimits, TokenAuth};

/// A `wecom_workid` channel's table: the work-ID platform's host and its OAuth2 client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkIdConfig {
    /// The platform's host (required; there is no official one).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Its OAuth2 client-credentials token URL (required).
    #[serde(default)]
    pub token_url: Option<String>,
    /// How the client authenticates at `token_url`; default HTTP Basic.
    #[serde(default)]
    pub token_auth: TokenAuth,
    /// OAuth2 client id (required).
    #[serde(default)]
    pub client_id: Option<String>,
    /// OAuth2 client secret (required).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Default `companyId` (a target may give its own); default none.
    #[serde(default)]
    pub company_id: Option<String>,
    /// Per-member caps; default WeCom's documented 30/min and 1000/h
    /// ([`crate::support::wecom::MEMBER_LIMITS`]).
    #[serde(default)]
    pub member_limits: Option<MemberLimits>,
    /// Default `safe` of files (0 or 1); default none (the platform's).
    #[serde(default)]
    pub safe: Option<u8>,
    /// Per-interface caps; default none (the platform documents none).
    #[serde(default)]
    pub limits: Option<RateLimits>,
}
