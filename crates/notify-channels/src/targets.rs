//! What a target of each channel kind takes: its fields and its `type` names. The adapters
//! refuse every other field with these lists, and the API's OpenAPI document draws one target
//! schema per kind from them, so the reference and the checks cannot disagree.

use notify_core::ChannelKind;

use crate::support::wecom::WecomType;

/// The target fields (besides `channel` and `type`) and the `type` names of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetSpec {
    /// Fields of `TargetInput` this kind uses, by their JSON names.
    pub fields: &'static [&'static str],
    /// The names `type` may take; empty when the kind has no types.
    pub types: &'static [&'static str],
    /// When `raw` may also be a list of upstream bodies (one message each): what it takes.
    pub raw_list: Option<&'static str>,
}

/// WeLink public-account messages.
pub const WELINK: TargetSpec = TargetSpec {
    fields: &["users", "departments", "roles", "raw"],
    types: &crate::welink::body::Kind::NAMES,
    raw_list: None,
};

/// Xiaowei strong reminders.
pub const XIAOWEI: TargetSpec = TargetSpec {
    fields: &["users", "raw"],
    types: &["push"],
    raw_list: None,
};

/// WeCom by work ID.
pub const WECOM_WORKID: TargetSpec = TargetSpec {
    fields: &["work_ids", "company_id", "safe", "raw"],
    types: &WecomType::NAMES,
    raw_list: None,
};

/// WeCom app messages.
pub const WECOM_APP: TargetSpec = TargetSpec {
    fields: &["users", "parties", "tags", "safe", "raw"],
    types: &WecomType::NAMES,
    raw_list: None,
};

/// The Juzi sidebar.
pub const JUZI: TargetSpec = TargetSpec {
    fields: &["chat_id", "contact_id", "bot_id", "raw"],
    types: &crate::juzi::body::NAMES,
    raw_list: Some(
        "Juzi SendParams with a `msgtype`, or a list of them (one message each), sent as they are.",
    ),
};

/// The log channel: it reads `users` and ignores the rest.
pub const LOG: TargetSpec = TargetSpec {
    fields: &["users"],
    types: &[],
    raw_list: None,
};

/// The spec of `kind`.
pub fn spec(kind: ChannelKind) -> TargetSpec {
    match kind {
        ChannelKind::Welink => WELINK,
        ChannelKind::Xiaowei => XIAOWEI,
        ChannelKind::WecomWorkid => WECOM_WORKID,
        ChannelKind::WecomApp => WECOM_APP,
        ChannelKind::Juzi => JUZI,
        ChannelKind::Log => LOG,
    }
}

/// Every kind, in the order the documentation lists them.
pub const KINDS: [ChannelKind; 6] = [
    ChannelKind::Welink,
    ChannelKind::Xiaowei,
    ChannelKind::WecomWorkid,
    ChannelKind::WecomApp,
    ChannelKind::Juzi,
    ChannelKind::Log,
];
