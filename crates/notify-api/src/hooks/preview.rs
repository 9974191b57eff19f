//! What `POST /v1/hooks/{name}/preview` answers: for each message a payload would become,
//! the unified message and, per target, the upstream bodies its adapter planned, and the state
//! updates a resolve puts on the alert's sent WeLink cards. Built by the hook ingress's own
//! build (directory, plan, resolve on the same card), never stored.

use notify_core::MessageInput;
use serde::Serialize;
use utoipa::ToSchema;

use notify_store::NewPart;

use crate::error::ApiError;
use crate::ingress::plan::Accepted;

/// The preview of one payload.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookPreview {
    /// One per message the payload would become (none when it would be dropped, e.g. a
    /// resolved notification with `send_resolved = false`).
    pub messages: Vec<PreviewMessage>,
}

/// One message of a preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewMessage {
    /// The unified message, as if posted to `POST /v1/messages`.
    pub message: MessageInput,
    /// What recognises a source's retry of this notification.
    pub alert_fingerprint: Option<String>,
    /// Why the hook's template failed (the default mapping is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_error: Option<String>,
    /// One per target, in order.
    pub targets: Vec<PreviewTarget>,
    /// A resolve's updates of the alert's sent WeLink cards (`已恢复` / `resolved`), which
    /// its WeLink targets (type `state_update`) stand for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_updates: Vec<PreviewStateUpdate>,
}

/// The update of one sent card.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewStateUpdate {
    /// The delivery (`dlv_…`) whose card is updated.
    pub delivery_id: String,
    /// The upstream calls, in order.
    pub parts: Vec<PreviewPart>,
}

/// What one target would receive.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewTarget {
    /// The channel's name.
    pub channel: String,
    /// The channel's kind.
    pub kind: notify_core::ChannelKind,
    /// The native message type.
    #[serde(rename = "type")]
    pub native_type: String,
    /// True when some text was shortened to fit.
    pub truncated: bool,
    /// The upstream calls, in order.
    pub parts: Vec<PreviewPart>,
}

/// One upstream call.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewPart {
    /// `send`, `upload`, …
    #[schema(value_type = String)]
    pub op: notify_core::PartOp,
    /// The native request body, without credentials.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// The preview of one built (never committed) message.
pub fn of(accepted: &Accepted) -> Result<PreviewMessage, ApiError> {
    let m = &accepted.message;
    // The unified message as stored, so the preview shows what ingress keeps.
    let message = MessageInput::from_json(m.body.as_bytes())
        .map_err(|e| ApiError::Internal(format!("a built message does not parse: {e:?}")))?;
    let targets = m
        .deliveries
        .iter()
        .map(|d| PreviewTarget {
            channel: d.channel.clone(),
            kind: d.kind,
            native_type: d.native_type.clone(),
            truncated: d.truncated,
            parts: parts(&d.parts),
        })
        .collect();
    let state_updates = m
        .state_updates
        .iter()
        .map(|u| PreviewStateUpdate {
            delivery_id: u.delivery_id.clone(),
            parts: parts(&u.parts),
        })
        .collect();
    Ok(PreviewMessage {
        message,
        alert_fingerprint: m.alert.as_ref().and_then(|a| a.fingerprint.clone()),
        template_error: m.template_error.clone(),
        targets,
        state_updates,
    })
}

fn parts(parts: &[NewPart]) -> Vec<PreviewPart> {
    parts
        .iter()
        .map(|p| PreviewPart {
            op: p.op,
            body: serde_json::from_str(&p.body)
                .unwrap_or_else(|_| serde_json::Value::String(p.body.clone())),
        })
        .collect()
}
