//! What an upstream answer means for the dispatcher. Adapters classify; the dispatcher acts
//! (ARCHITECTURE.md, "What the dispatcher does with an answer").

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A recipient upstream refused while accepting the call for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailedRecipient {
    /// The recipient id as the caller gave it.
    pub recipient: String,
    /// The upstream code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// The meaning of one upstream answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted. `upstream_id` is what a recall or state update needs later.
    Sent {
        /// itemId / msgid / pushId / media_id.
        upstream_id: Option<String>,
        /// Recipients refused inside an accepted call.
        failed_recipients: Vec<FailedRecipient>,
    },
    /// Accepted for nobody, but the same call may go through for the recipients left: the part
    /// is sent again at once with this body (WeLink `51019` without an `itemId`).
    Resend {
        /// Recipients dropped from the call, for good.
        failed_recipients: Vec<FailedRecipient>,
        /// The body for the remaining recipients.
        body: serde_json::Value,
        /// The remaining recipients.
        recipients: Vec<String>,
    },
    /// The call did not go through; try again after a back-off (5xx, upstream "system busy").
    Transient {
        /// Upstream code or HTTP status.
        code: String,
        /// Why.
        message: String,
    },
    /// The request left but no answer came back: it may have been delivered. Retried, and the
    /// attempt flagged as a possible duplicate.
    OutcomeUnknown {
        /// What happened (timeout, reset after write).
        message: String,
    },
    /// Upstream's rate limit: pause the lane, requeue, spend no attempt.
    RateLimited {
        /// `48503`, `58602`, `45009`…
        code: String,
        /// Why.
        message: String,
        /// The first back-off step for this code.
        initial_backoff: Duration,
    },
    /// The token is invalid or expired: drop it, fetch once, retry (no attempt spent, once).
    TokenInvalid {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
    },
    /// The channel's daily quota is spent (Xiaowei `58604`): wait for the next quota day.
    QuotaExhausted {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
    },
    /// An uploaded media id expired (WeCom `40007`): upload again once, then send.
    MediaExpired {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
    },
    /// The credential itself is wrong or locked: stop fetching tokens for it until an operator
    /// acts; the delivery fails with this reason.
    CredentialRejected {
        /// Upstream code.
        code: String,
        /// What the operator must fix.
        message: String,
    },
    /// Will never succeed as it is (bad parameters, no permission).
    Permanent {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
    },
}

impl Outcome {
    /// The upstream code of a refusal, for the attempt log and metrics.
    pub fn code(&self) -> &str {
        match self {
            Outcome::Sent { .. } | Outcome::Resend { .. } => "0",
            Outcome::OutcomeUnknown { .. } => "unknown",
            Outcome::Transient { code, .. }
            | Outcome::RateLimited { code, .. }
            | Outcome::TokenInvalid { code, .. }
            | Outcome::QuotaExhausted { code, .. }
            | Outcome::MediaExpired { code, .. }
            | Outcome::CredentialRejected { code, .. }
            | Outcome::Permanent { code, .. } => code,
        }
    }

    /// A short label for metrics (`sent`, `rate_limited`…).
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Resend { .. } => "resend",
            Outcome::Transient { .. } => "transient",
            Outcome::OutcomeUnknown { .. } => "unknown",
            Outcome::RateLimited { .. } => "rate_limited",
            Outcome::TokenInvalid { .. } => "token_invalid",
            Outcome::QuotaExhausted { .. } => "quota_exhausted",
            Outcome::MediaExpired { .. } => "media_expired",
            Outcome::CredentialRejected { .. } => "credential_rejected",
            Outcome::Permanent { .. } => "permanent",
        }
    }
}
