//! WeLink Xiaowei strong reminders (000_… §2.2.2.3, lines 1519–1640). They share the WeLink
//! token, limits and egress budget of their `client_id`.

pub mod body;
pub mod codes;

use notify_core::{
    ChannelKind, CheckedMessage, FieldError, Outcome, PartOp, PartPlan, Plan, TargetInput,
};
use serde_json::{json, Value};

use crate::support::fit::Fitter;
use crate::support::target::{chunks, ids, known_type, only, raw_object};
use crate::welink::{host_request, token};
use crate::{Channel, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer, UpstreamRequest};

/// The Xiaowei adapter.
#[derive(Debug, Clone)]
pub struct XiaoweiChannel {
    /// The WeLink credential and host.
    pub credentials: token::Credentials,
}

impl Channel for XiaoweiChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Xiaowei
    }

    /// The same as the `welink` kind's: one token and one budget per `client_id` (contract §2).
    fn credential(&self) -> String {
        format!("welink:{}", self.credentials.client_id)
    }

    fn plan(
        &self,
        message: &CheckedMessage,
        target: &TargetInput,
        now_ms: i64,
    ) -> Result<Plan, FieldError> {
        only(target, "xiaowei", crate::targets::XIAOWEI.fields)?;
        known_type(target, "xiaowei", crate::targets::XIAOWEI.types)?;
        let users = ids(&target.users, "users")?;
        if users.is_empty() {
            return Err(FieldError::new(
                "users",
                "required",
                "a Xiaowei target needs users",
            ));
        }
        let mut fit = Fitter::default();
        let base = match raw_object(target)? {
            Some(raw) => raw,
            None => body::build(&message.input, now_ms, message.expires_at_ms, &mut fit)?,
        };
        let parts = chunks(&users, body::USERS_MAX)
            .into_iter()
            .map(|chunk| {
                let mut b = base.clone();
                b.insert("toUserList".into(), json!(chunk));
                PartPlan {
                    op: PartOp::Send,
                    interface: body::PUSH.into(),
                    body: Value::Object(b),
                    recipients: chunk,
                    depends_on: None,
                }
            })
            .collect();
        Ok(Plan {
            native_type: "push".into(),
            truncated: fit.truncated(),
            parts,
            awaiting_agent: false,
            context: json!({}),
        })
    }

    fn token_request(&self) -> Option<UpstreamRequest> {
        Some(token::request(&self.credentials))
    }

    fn parse_token(&self, answer: &UpstreamAnswer) -> TokenAnswer {
        token::parse(answer)
    }

    fn request(&self, call: &PartCall<'_>) -> UpstreamRequest {
        host_request(&self.credentials.base_url, call)
    }

    fn classify(&self, _call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
        codes::classify(answer)
    }

    /// The guide documents no recall for Xiaowei pushes (lines 1519–1640).
    fn plan_recall(&self, _upstream_id: &str, _context: &Value) -> RecallPlan {
        RecallPlan::NotRecallable("WeLink offers no recall for Xiaowei pushes".into())
    }
}
