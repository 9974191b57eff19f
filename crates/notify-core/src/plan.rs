//! What an adapter plans for a delivery at ingress: the upstream calls ("parts") it will take.
//! Bodies are built once, when the message is accepted, and stored with the part; the
//! dispatcher adds only credentials at send time.

use serde::{Deserialize, Serialize};

/// What a part does upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOp {
    /// Sends the message (or a recipient chunk of it).
    Send,
    /// Uploads media whose id a later send uses.
    Upload,
    /// Recalls a sent part.
    Recall,
    /// Updates a sent card's state.
    State,
}

impl PartOp {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PartOp::Send => "send",
            PartOp::Upload => "upload",
            PartOp::Recall => "recall",
            PartOp::State => "state",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "send" => PartOp::Send,
            "upload" => PartOp::Upload,
            "recall" => PartOp::Recall,
            "state" => PartOp::State,
            _ => return None,
        })
    }
}

// Equal to its stored name, so a JSON answer's text and a typed value compare.
impl PartialEq<&str> for PartOp {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for PartOp {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// One planned upstream call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartPlan {
    /// What it does.
    pub op: PartOp,
    /// The upstream interface: the path appended to the channel's `base_url`
    /// (`/messages/v2/card/common`). With the credential it names the part's lane.
    pub interface: String,
    /// The native request body, without credentials.
    pub body: serde_json::Value,
    /// The members this call reaches (per-member limits, failed recipients). Parties, tags,
    /// departments and roles are not members and are not listed.
    pub recipients: Vec<String>,
    /// Index (in the delivery's parts) of a part whose upstream id this one needs, e.g. the
    /// upload whose `media_id` a send carries.
    pub depends_on: Option<usize>,
}

/// Everything an adapter decided for one target at ingress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The native message kind (`card`, `textcard`…).
    pub native_type: String,
    /// True when some text was shortened to fit.
    pub truncated: bool,
    /// The calls, in order.
    pub parts: Vec<PartPlan>,
    /// Juzi: the delivery waits for an agent instead of a worker.
    pub awaiting_agent: bool,
    /// Data kept with the delivery for later operations (recall, state update, sidebar):
    /// e.g. WeLink `publicAccID`, the recipients a state update goes to, a Juzi chat id.
    pub context: serde_json::Value,
}

/// What identifies a lane and how it is owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LaneInfo {
    /// `credential|interface`.
    pub lane: String,
    /// A channel using it (for display).
    pub channel: String,
    /// The upstream credential.
    pub credential: String,
    /// The upstream interface.
    pub interface: String,
    /// The ownership unit: lanes of one unit are owned by one replica together (WeLink lanes of
    /// one egress group share the per-IP bucket).
    pub unit: String,
}

impl LaneInfo {
    /// The lane of `credential` × `interface`, owned as `unit`.
    pub fn new(channel: &str, credential: &str, interface: &str, unit: &str) -> Self {
        Self {
            lane: format!("{credential}|{interface}"),
            channel: channel.to_string(),
            credential: credential.to_string(),
            interface: interface.to_string(),
            unit: unit.to_string(),
        }
    }
}
