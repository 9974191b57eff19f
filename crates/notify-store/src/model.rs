//! Rows going into and out of the store.

use notify_core::{
    ChannelKind, DeliveryStatus, FailedRecipient, MessageStatus, PartId, PartOp, PartStatus,
};
use serde::{Deserialize, Serialize};

/// A message to insert, with its deliveries and their parts, all planned at ingress.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// `msg_…`, made by `MessageId::new_at(created_at)`: the id carries the accept time, and
    /// listing by time range relies on it (it filters on the id, not on `created_at`).
    pub id: String,
    /// The caller's tenant.
    pub tenant: String,
    /// The caller's name.
    pub caller: String,
    /// Unique per tenant when set.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the canonical body, to tell a replay from a conflicting reuse of a key.
    pub body_hash: String,
    /// Priority rank (0 urgent … 3 low).
    pub priority: i64,
    /// Title text, for search.
    pub title: String,
    /// The message as posted (JSON).
    pub body: String,
    /// The 202 answer, returned again to a replay.
    pub response: String,
    /// Accept time.
    pub created_at: i64,
    /// Earliest send.
    pub not_before: Option<i64>,
    /// Deadline.
    pub expires_at: i64,
    /// One per target.
    pub deliveries: Vec<NewDelivery>,
    /// The alert the message belongs to (storm control, resolve, acknowledgement).
    pub alert: Option<NewAlert>,
    /// Why a hook's template could not be rendered (the default mapping was used instead).
    pub template_error: Option<String>,
    /// A digest of this alert key's suppressed messages (made by the digest loop): listed with
    /// the alert's messages, not classified by storm control.
    pub digest_of: Option<String>,
    /// Calls appended, in the same transaction, to deliveries of earlier messages (a resolve's
    /// green state update of the alert's WeLink cards, planned by the channel adapter).
    pub state_updates: Vec<NewStateUpdate>,
}

/// Calls to append to an existing delivery when a message is committed.
#[derive(Debug, Clone)]
pub struct NewStateUpdate {
    /// The delivery that gets them (an earlier message's, already sent).
    pub delivery_id: String,
    /// The calls, queued at once.
    pub parts: Vec<NewPart>,
    /// How long they may wait (ms).
    pub ttl_ms: i64,
}

/// A message's place in one alert (`alert` in the unified message, filled in by hooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The alert's key within the tenant.
    pub key: String,
    /// `firing` or `resolved`.
    pub status: notify_core::AlertStatus,
    /// The window of storm control, in ms.
    pub dedup_window_ms: i64,
    /// What makes a source's retry or repeat of one notification recognisable (hooks: the
    /// key, status and alerts); `None` for messages posted to `/v1/messages`.
    pub fingerprint: Option<String>,
}

/// A delivery to insert.
#[derive(Debug, Clone, Default)]
pub struct NewDelivery {
    /// `dlv_…`.
    pub id: String,
    /// Index of the target.
    pub seq: i64,
    /// Channel name.
    pub channel: String,
    /// Channel kind.
    pub kind: ChannelKind,
    /// Native message type.
    pub native_type: String,
    /// `Queued` or `AwaitingAgent`.
    pub status: DeliveryStatus,
    /// Text was shortened.
    pub truncated: bool,
    /// Adapter context (JSON).
    pub context: String,
    /// The Juzi chat a waiting delivery is for (the Juzi channel's chat key); `None` for
    /// every other kind.
    pub chat_key: Option<String>,
    /// The calls.
    pub parts: Vec<NewPart>,
    /// The escalation step this delivery sends (index into the message's `escalation`);
    /// `None` for the message's own targets.
    pub escalation_step: Option<i64>,
    /// When its calls become due, when later than the message's `not_before` or accept time
    /// (an escalation step: accept time + `after`).
    pub due_at: Option<i64>,
    /// Its own deadline, when not the message's (an escalation step: `due_at` + the message's
    /// time to live).
    pub expires_at: Option<i64>,
    /// Native recipient id → directory person id (JSON object) when the target named people or
    /// groups, so a fallback can map the recipients that failed.
    pub people: Option<String>,
    /// The target's fallback, resolved at ingress (JSON of `FallbackPlan`).
    pub fallback: Option<String>,
}

/// A part to insert.
#[derive(Debug, Clone)]
pub struct NewPart {
    /// `prt_…`.
    pub id: String,
    /// Index within the delivery.
    pub seq: i64,
    /// What it does.
    pub op: PartOp,
    /// The lane it is claimed from.
    pub lane: LaneInfo,
    /// Native body (JSON).
    pub body: String,
    /// Members reached (JSON array).
    pub recipients: String,
    /// Seq of the part whose upstream id this one needs.
    pub depends_on: Option<i64>,
}

impl NewPart {
    /// The stored part of a planned call at `seq` in `lane` (the channel's lane of its
    /// interface, named by the channel layer), made at `now`.
    pub fn planned(lane: LaneInfo, p: &notify_core::PartPlan, seq: i64, now: i64) -> Self {
        Self {
            id: PartId::new_at(now).0,
            seq,
            op: p.op,
            lane,
            body: p.body.to_string(),
            recipients: serde_json::Value::from(p.recipients.clone()).to_string(),
            depends_on: p.depends_on.map(|d| d as i64),
        }
    }
}

/// What identifies a lane and how it is owned: named by the channel layer, so that ingress and
/// the dispatcher put a channel's calls in the same lanes.
pub use notify_core::LaneInfo;

/// The result of inserting one message.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    /// Stored now.
    Inserted,
    /// The same idempotency key with the same body: the first answer.
    Replayed {
        /// The stored answer.
        response: String,
    },
    /// Stored as `suppressed` by storm control (inside its alert's dedup window): nothing of
    /// it is sent; the answer says so and names the message that went out.
    Suppressed {
        /// The stored answer (status `suppressed`, `suppressed_into`, no deliveries).
        response: String,
    },
    /// The same idempotency key with another body.
    Conflict {
        /// The message that holds the key.
        existing_id: String,
    },
}

/// A part handed to a worker under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedPart {
    /// Part id.
    pub id: String,
    /// Its delivery.
    pub delivery_id: String,
    /// Its message.
    pub message_id: String,
    /// Index within the delivery.
    pub seq: i64,
    /// What it does.
    pub op: PartOp,
    /// Upstream interface.
    pub interface: String,
    /// Channel name.
    pub channel: String,
    /// Tenant.
    pub tenant: String,
    /// Native body.
    pub body: serde_json::Value,
    /// Members reached.
    pub recipients: Vec<String>,
    /// Upstream id of the part it depends on.
    pub dependency_id: Option<String>,
    /// Attempts spent so far.
    pub attempts: i64,
    /// Deadline.
    pub expires_at: i64,
    /// The lease fence: completions must present it.
    pub lease_token: String,
    /// Lease end.
    pub lease_until: i64,
    /// The delivery's adapter context.
    pub context: serde_json::Value,
}

/// The attempt log entry of one upstream call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptRecord {
    /// When the call started.
    pub at: i64,
    /// Upstream interface.
    pub endpoint: String,
    /// HTTP status, when an answer came.
    pub http_status: Option<i64>,
    /// Upstream code.
    pub upstream_code: Option<String>,
    /// Upstream message.
    pub upstream_message: Option<String>,
    /// Call duration.
    pub duration_ms: i64,
    /// Outcome label (`sent`, `rate_limited`…).
    pub outcome: String,
    /// The call may have been delivered though no answer came.
    pub possible_duplicate: bool,
}

/// What a worker reports for a claimed part.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Part id.
    pub part_id: String,
    /// The lease fence from the claim.
    pub lease_token: String,
    /// What happened.
    pub result: PartResult,
    /// The call's log entry, if a call was made.
    pub attempt: Option<AttemptRecord>,
}

/// The fate of a part after a call.
#[derive(Debug, Clone)]
pub enum PartResult {
    /// Done: upstream id and refused recipients stored.
    Done {
        /// Upstream id.
        upstream_id: Option<String>,
        /// Refused recipients.
        failed_recipients: Vec<FailedRecipient>,
    },
    /// Back to the queue at `at_ms`.
    Retry {
        /// When it may be claimed again.
        at_ms: i64,
        /// Whether this try counts against `max_attempts`.
        spend_attempt: bool,
        /// Why.
        error: String,
        /// The call may have been delivered.
        possible_duplicate: bool,
    },
    /// Send again at once with a new body (the others were refused for good).
    Resend {
        /// New body.
        body: serde_json::Value,
        /// Remaining recipients.
        recipients: Vec<String>,
        /// Refused recipients.
        failed_recipients: Vec<FailedRecipient>,
    },
    /// The media id this send used expired: queue a fresh upload, then this send again.
    Reupload {
        /// Why.
        error: String,
    },
    /// Failed for good; the delivery fails.
    Failed {
        /// Why.
        error: String,
    },
    /// Could not be sent before its deadline; the delivery expires.
    Expired {
        /// Why.
        error: String,
    },
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// `dlv_…`.
    pub id: String,
    /// Channel name.
    pub channel: String,
    /// Channel kind.
    pub kind: ChannelKind,
    /// Native type.
    #[serde(rename = "type")]
    pub native_type: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Upstream ids of its calls, in order.
    pub upstream_ids: Vec<String>,
    /// Refused recipients.
    pub failed_recipients: Vec<FailedRecipient>,
    /// Text was shortened.
    pub truncated: bool,
    /// Last error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Its calls.
    pub parts: Vec<PartView>,
    /// Every attempt.
    pub attempts: Vec<AttemptView>,
    /// Adapter context (kept for recall, state and the sidebar; not shown).
    #[serde(skip)]
    pub context: serde_json::Value,
    /// The escalation step this delivery sends; absent for the message's own targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<StepView>,
    /// The delivery this one stands in for (a fallback delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_of: Option<String>,
}

/// An escalation step's delivery, as `GET /v1/messages/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    /// Index into the message's `escalation`.
    pub step: i64,
    /// When it is (or was) due: accept time + `after`, RFC 3339.
    pub due_at: String,
    /// `pending` (not yet fired: the delivery is `queued` and untouched), `fired` (its calls
    /// were made or are being made), or `cancelled` (never sent: see `reason`).
    pub state: String,
    /// Why a cancelled step never fired: `acknowledged` or `resolved` (absent when recalled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A part as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartView {
    /// `prt_…`.
    pub id: String,
    /// Index.
    pub seq: i64,
    /// What it does: `send`, `upload`, `recall` or `state`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub op: PartOp,
    /// Upstream interface.
    pub interface: String,
    /// Status.
    pub status: PartStatus,
    /// Attempts spent.
    pub attempts: i64,
    /// Upstream id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<String>,
    /// Last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Members reached by this call.
    #[serde(skip)]
    pub recipients: Vec<String>,
}

/// An attempt as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptView {
    /// RFC 3339 time.
    pub at: String,
    /// Upstream interface.
    pub endpoint: String,
    /// HTTP status.
    pub http_status: Option<i64>,
    /// Upstream code.
    pub upstream_code: Option<String>,
    /// Upstream message.
    pub upstream_message: Option<String>,
    /// Duration.
    pub duration_ms: i64,
    /// Outcome label.
    pub outcome: String,
    /// May have been delivered twice.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub possible_duplicate: bool,
}

/// A message as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    /// `msg_…`.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Status.
    pub status: MessageStatus,
    /// RFC 3339.
    pub created_at: String,
    /// Idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Title text.
    pub title: String,
    /// The alert it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<MessageAlert>,
    /// Storm control: the message that went out in its place (status `suppressed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_into: Option<String>,
    /// Why a hook's template could not be rendered (the default mapping was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_error: Option<String>,
    /// Who acknowledged the message (`POST /v1/messages/{id}/ack` or its acknowledge link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// When it was acknowledged, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
    /// The deliveries (empty in list views).
    pub deliveries: Vec<DeliveryView>,
}

/// A message's place in its alert, as shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageAlert {
    /// The alert's key.
    pub key: String,
    /// `firing`, `resolved`, or `digest` for a digest of suppressed messages.
    pub status: String,
}

/// Filters of `GET /v1/messages`.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Only this tenant (`None`: all, for admins).
    pub tenant: Option<String>,
    /// Message status.
    pub status: Option<String>,
    /// Has a delivery on this channel.
    pub channel: Option<String>,
    /// Created at or after (ms).
    pub since: Option<i64>,
    /// Created before (ms).
    pub until: Option<i64>,
    /// Title contains.
    pub text: Option<String>,
    /// Ids below this one (cursor).
    pub before_id: Option<String>,
    /// Page size.
    pub limit: i64,
}
