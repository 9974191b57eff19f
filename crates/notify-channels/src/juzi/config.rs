//! `[channels.NAME]` of kind `juzi`: its keys and their documented defaults. The gateway makes
//! no upstream call for Juzi; these keys configure the sidebar page (docs/sidebar.md).

use serde::{Deserialize, Serialize};

/// A `juzi` channel's table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JuziConfig {
    /// Juzi's regional host, for the sidebar's OAuth (required).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Send waiting messages as soon as the chat is open, without a click; default false.
    #[serde(default)]
    pub auto_send: bool,
    /// The `wecom_app` channel that signs `ww.register` in native WeCom; default none.
    #[serde(default)]
    pub jssdk_channel: Option<String>,
    /// The only tenant whose waiting messages this channel's sidebar shows and sends; default
    /// none (every tenant's).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The only corp whose agents may sign in; default none (any).
    #[serde(default)]
    pub corp_id: Option<String>,
}
