//! Answers of the API that are not store views.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The 202 answer of `POST /v1/messages` (also returned to a replay).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptedMessage {
    /// `msg_…`.
    pub id: String,
    /// `accepted`.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    /// The idempotency key, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// One per target, in order, then one per escalation step's target.
    pub deliveries: Vec<AcceptedDelivery>,
    /// The acknowledge link (`{server.public_url}/ack/{token}`), when the message has
    /// escalation steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<String>,
}

/// One delivery of an accepted message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptedDelivery {
    /// `dlv_…`.
    pub id: String,
    /// Channel name.
    pub channel: String,
    /// Channel kind.
    pub kind: notify_core::ChannelKind,
    /// Native message type.
    #[serde(rename = "type")]
    pub native_type: String,
    /// `queued` or `awaiting_agent`.
    #[schema(value_type = notify_core::DeliveryStatus)]
    pub status: String,
    /// Upstream ids (none yet).
    pub upstream_ids: Vec<String>,
    /// Refused recipients (none yet).
    #[schema(value_type = Vec<notify_core::FailedRecipient>)]
    pub failed_recipients: Vec<serde_json::Value>,
    /// Some text was shortened to fit the channel.
    pub truncated: bool,
    /// Upstream calls planned.
    pub parts: usize,
    /// Attempts (none yet).
    #[schema(value_type = Vec<notify_store::AttemptView>)]
    pub attempts: Vec<serde_json::Value>,
    /// The escalation step this delivery sends (index into `escalation`); absent for the
    /// message's own targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_step: Option<i64>,
    /// When a step's delivery is due (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
}

/// The outcome of an action on one delivery (recall, state update, retry).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAction {
    /// `dlv_…`.
    pub id: String,
    /// Channel name.
    pub channel: String,
    /// The delivery's status after the action.
    pub status: notify_core::DeliveryStatus,
    /// True when the action was taken (calls queued, or nothing left to do).
    pub accepted: bool,
    /// Why not, or what happens next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The 202 answer of recall and state updates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActionAnswer {
    /// `msg_…`.
    pub id: String,
    /// Per delivery.
    pub deliveries: Vec<DeliveryAction>,
}
