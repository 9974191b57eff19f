//! The `log` channel: writes each delivery to the gateway's log and calls it sent. It lets the
//! whole path (ingress → outbox → dispatcher) run before any upstream is configured, and gives
//! tests a channel whose outcome is known.

use notify_core::{
    ChannelKind, CheckedMessage, FieldError, Outcome, PartOp, PartPlan, Plan, TargetInput,
};
use serde_json::json;

use crate::{Channel, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer, UpstreamRequest};

/// A `log` channel's table: it takes no key but `kind`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {}

/// The interface name of the log channel's one lane.
pub const INTERFACE: &str = "log";

/// Logs deliveries.
#[derive(Debug, Clone)]
pub struct LogChannel {
    name: String,
}

impl LogChannel {
    /// A log channel named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
        }
    }
}

impl Channel for LogChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Log
    }

    fn credential(&self) -> String {
        format!("log:{}", self.name)
    }

    fn default_rate_limits(&self) -> Option<crate::RateLimits> {
        None
    }

    fn egress_group(&self) -> Option<String> {
        None
    }

    fn member_limits(&self) -> Option<crate::MemberLimits> {
        None
    }

    fn daily_quota(&self) -> Option<crate::DailyQuota> {
        None
    }

    fn plan(
        &self,
        message: &CheckedMessage,
        target: &TargetInput,
        _now_ms: i64,
    ) -> Result<Plan, FieldError> {
        let m = &message.input;
        let recipients: Vec<String> = target.users.clone().unwrap_or_default();
        Ok(Plan {
            native_type: "log".into(),
            truncated: false,
            parts: vec![PartPlan {
                op: PartOp::Send,
                interface: INTERFACE.into(),
                body: json!({
                    "title": m.title.as_ref().map(|t| t.zh()),
                    "content": m.content.as_ref().map(|t| t.zh()),
                    "users": recipients,
                }),
                recipients,
                depends_on: None,
            }],
            awaiting_agent: false,
            context: json!({}),
        })
    }

    fn token_request(&self) -> Option<UpstreamRequest> {
        None
    }

    fn parse_token(&self, _answer: &UpstreamAnswer) -> TokenAnswer {
        TokenAnswer::Failed {
            code: "none".into(),
            message: "the log channel uses no token".into(),
        }
    }

    fn request(&self, call: &PartCall<'_>) -> UpstreamRequest {
        UpstreamRequest::post_json(format!("log://{}", self.name), call.body.clone())
    }

    fn classify(&self, _call: &PartCall<'_>, _answer: &UpstreamAnswer) -> Outcome {
        Outcome::Sent {
            upstream_id: None,
            failed_recipients: Vec::new(),
        }
    }

    fn upstream_message(&self, _answer: &UpstreamAnswer) -> Option<String> {
        None
    }

    fn drops_token(&self, _outcome: &Outcome) -> bool {
        false
    }

    fn alert_card_type(&self) -> Option<&'static str> {
        None
    }

    fn takes_link_button(&self, _input: &notify_core::MessageInput, _target: &TargetInput) -> bool {
        false
    }

    fn people_ids(&self) -> Option<crate::PeopleIds> {
        None
    }

    fn local_outcome(&self, call: &PartCall<'_>) -> Option<Outcome> {
        tracing::info!(channel = %self.name, op = call.op.as_str(), body = %call.body, "log channel delivery");
        Some(Outcome::Sent {
            upstream_id: Some(format!("log-{}", call.body.to_string().len())),
            failed_recipients: Vec::new(),
        })
    }

    fn plan_recall(&self, _upstream_id: &str, _context: &serde_json::Value) -> RecallPlan {
        RecallPlan::call(INTERFACE, json!({"recall": true}))
    }
}
