//! The Juzi sidebar channel (001_844017fd58a1860e.txt): the gateway makes no upstream call. A
//! delivery waits until an agent's sidebar page, open on the target chat, sends its payloads with
//! `wx.invoke('sendChatMessage', …)` and reports back.

pub mod body;
pub mod config;
pub mod context;

use notify_core::{ChannelKind, CheckedMessage, FieldError, Outcome, Plan, TargetInput};
use serde_json::{Map, Value};

use crate::support::target::{known_type, only};
use crate::ConfigError;
use crate::{Channel, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer, UpstreamRequest};
pub use config::JuziConfig;

/// Why the dispatcher never sends a Juzi message itself.
const SIDEBAR_ONLY: &str = "Juzi messages are sent by an agent's sidebar, not by the dispatcher";

/// The Juzi adapter.
#[derive(Debug, Clone)]
pub struct JuziChannel {
    /// The channel's name: the credential of its (token-less) lane.
    pub name: String,
    /// Juzi's regional host (OAuth for the sidebar).
    pub base_url: String,
}

impl JuziChannel {
    /// The adapter of `[channels.NAME]` of kind `juzi`.
    pub fn from_config(name: &str, config: &JuziConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            name: name.to_string(),
            base_url: crate::support::settings::required(name, "base_url", &config.base_url)?,
        })
    }

    /// The payloads of a `raw` target: one `SendParams` object or a list of them.
    fn raw_payloads(raw: &Value) -> Result<Vec<Value>, FieldError> {
        let list = match raw {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        if list.is_empty()
            || list
                .iter()
                .any(|p| !p.get("msgtype").is_some_and(Value::is_string))
        {
            return Err(FieldError::new(
                "raw",
                "invalid",
                "raw is a SendParams object with a msgtype, or a list of them",
            ));
        }
        Ok(list)
    }
}

impl Channel for JuziChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Juzi
    }

    fn credential(&self) -> String {
        format!("juzi:{}", self.name)
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
        only(target, "juzi", crate::targets::JUZI.fields)?;
        let declared = known_type(target, "juzi", crate::targets::JUZI.types)?;
        let chat = target
            .chat_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let contact = target
            .contact_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let mut context = Map::new();
        match (chat, contact) {
            (Some(c), None) => {
                context.insert("chat_id".into(), c.into());
            }
            (None, Some(c)) => {
                context.insert("contact_id".into(), c.into());
            }
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "contact_id",
                    "conflict",
                    "a Juzi target is one chat: give chat_id or contact_id, not both",
                ))
            }
            (None, None) => return Err(FieldError::new(
                "chat_id",
                "required",
                "a Juzi target needs chat_id (a group chat) or contact_id (an external contact)",
            )),
        }
        if let Some(bot) = target.bot_id.as_deref().filter(|b| !b.trim().is_empty()) {
            context.insert("bot_id".into(), bot.into());
        }
        let (native_type, payloads) = match &target.raw {
            Some(raw) => {
                let payloads = Self::raw_payloads(raw)?;
                let t = payloads[0]
                    .get("msgtype")
                    .and_then(Value::as_str)
                    .unwrap_or("text")
                    .to_string();
                (t, payloads)
            }
            None => {
                let t = declared.unwrap_or_else(|| body::pick(&message.input));
                (t.to_string(), body::build(t, &message.input)?)
            }
        };
        context.insert("payloads".into(), payloads.into());
        Ok(Plan {
            native_type,
            truncated: false,
            parts: Vec::new(),
            awaiting_agent: true,
            context: Value::Object(context),
        })
    }

    fn token_request(&self) -> Option<UpstreamRequest> {
        None
    }

    fn parse_token(&self, _answer: &UpstreamAnswer) -> TokenAnswer {
        TokenAnswer::Failed {
            code: "none".into(),
            message: "the Juzi channel uses no token".into(),
        }
    }

    fn request(&self, _call: &PartCall<'_>) -> UpstreamRequest {
        UpstreamRequest::get(self.base_url.clone())
    }

    fn classify(&self, _call: &PartCall<'_>, _answer: &UpstreamAnswer) -> Outcome {
        Outcome::Permanent {
            code: "juzi".into(),
            message: SIDEBAR_ONLY.into(),
        }
    }

    /// Juzi answers `{errcode, errmsg}`.
    fn upstream_message(&self, answer: &UpstreamAnswer) -> Option<String> {
        crate::support::answer::message_field(answer, "errmsg")
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

    /// A Juzi plan has no parts; should one reach a worker, it fails without any HTTP.
    fn local_outcome(&self, _call: &PartCall<'_>) -> Option<Outcome> {
        Some(Outcome::Permanent {
            code: "juzi".into(),
            message: SIDEBAR_ONLY.into(),
        })
    }

    /// A message the agent sent is in the customer's chat; the store cancels waiting ones.
    fn plan_recall(&self, _upstream_id: &str, _context: &Value) -> RecallPlan {
        RecallPlan::NotRecallable("a sent Juzi message cannot be recalled".into())
    }
}
