//! WeLink Xiaowei strong reminders (000_… §2.2.2.3, lines 1519–1640). They share the WeLink
//! token, limits and egress budget of their `client_id`.

pub mod body;
pub mod codes;
pub mod config;

use notify_core::{
    ChannelKind, CheckedMessage, FieldError, Outcome, PartOp, PartPlan, Plan, TargetInput,
};
use serde_json::{json, Value};

use crate::support::fit::Fitter;
use crate::support::settings::non_blank;
use crate::support::target::{chunks, ids, known_type, only, raw_object};
use crate::welink::{host_request, token};
use crate::ConfigError;
use crate::{
    Channel, DailyQuota, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer, UpstreamRequest,
};
pub use config::{XiaoweiConfig, DAILY_QUOTA};

/// A caller's `raw` body may name its own `endDate`; a push that goes out after that day would
/// carry a past date, which upstream refuses (line 1559, `58601`) after the day's quota slot is
/// spent. Refused at ingress: naming `not_before` when the schedule is what makes it late.
fn check_raw_end_date(
    raw: &serde_json::Map<String, Value>,
    not_before_ms: Option<i64>,
    now_ms: i64,
) -> Result<(), FieldError> {
    let Some(end) = raw
        .get("endDate")
        .and_then(Value::as_str)
        .and_then(body::parse_date)
    else {
        return Ok(());
    };
    let send_day = body::china_day(not_before_ms.unwrap_or(now_ms).max(now_ms));
    if end >= send_day {
        return Ok(());
    }
    Err(match not_before_ms {
        Some(_) => FieldError::new(
            "/not_before",
            "after_end_date",
            format!(
                "the push would go out on {send_day} (China time), after its raw endDate {end}: WeLink refuses a past endDate"
            ),
        ),
        None => FieldError::new(
            "raw.endDate",
            "in_the_past",
            format!("endDate {end} has passed in China (today there: {send_day})"),
        ),
    })
}

/// The Xiaowei adapter.
#[derive(Debug, Clone)]
pub struct XiaoweiChannel {
    /// The WeLink credential and host.
    pub credentials: token::Credentials,
    /// The egress group its calls count against (shared with WeLink's host).
    pub egress_group: String,
    /// The enterprise's daily quota.
    pub quota: DailyQuota,
}

impl XiaoweiChannel {
    /// The adapter of `[channels.NAME]` of kind `xiaowei`.
    pub fn from_config(name: &str, config: &XiaoweiConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            credentials: token::Credentials::from_keys(
                name,
                &config.base_url,
                &config.client_id,
                &config.client_secret,
            )?,
            egress_group: crate::welink::egress_group(&config.egress_group),
            quota: DailyQuota {
                per_day: config.daily_quota.unwrap_or(DAILY_QUOTA),
                key: quota_key(
                    &non_blank(&config.enterprise)
                        .or_else(|| non_blank(&config.client_id))
                        .unwrap_or_default(),
                ),
            },
        })
    }
}

/// The key of the quota days of `enterprise`: one per WeLink enterprise (000_… lines 750 and
/// 1523: "每个企业每天" — each enterprise, each day), so two apps of one enterprise share it.
/// With the enterprise named by the `client_id`, the key is the credential's, as before the
/// key was configurable, so an upgrade keeps the day's count.
pub fn quota_key(enterprise: &str) -> String {
    format!("welink:{enterprise}")
}

impl Channel for XiaoweiChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Xiaowei
    }

    /// The same as the `welink` kind's: one token and one budget per `client_id` (contract §2).
    fn credential(&self) -> String {
        format!("welink:{}", self.credentials.client_id)
    }

    fn default_rate_limits(&self) -> Option<crate::RateLimits> {
        Some(crate::welink::RATE_LIMITS)
    }

    fn egress_group(&self) -> Option<String> {
        Some(self.egress_group.clone())
    }

    fn member_limits(&self) -> Option<crate::MemberLimits> {
        None
    }

    fn daily_quota(&self) -> Option<DailyQuota> {
        Some(self.quota.clone())
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
            Some(raw) => {
                check_raw_end_date(&raw, message.not_before_ms, now_ms)?;
                raw
            }
            None => body::build(&message.input, message.expires_at_ms, &mut fit)?,
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

    /// `endDate` is completed here, from the time of the call (see [`body::at_call`]).
    fn request(&self, call: &PartCall<'_>) -> UpstreamRequest {
        let b = body::at_call(call.body, call.now_ms);
        host_request(&self.credentials.base_url, &PartCall { body: &b, ..*call })
    }

    fn classify(&self, _call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
        codes::classify(answer)
    }

    /// WeLink's host answers `{code, message}`.
    fn upstream_message(&self, answer: &UpstreamAnswer) -> Option<String> {
        crate::support::answer::message_field(answer, "message")
    }

    /// The missing interface permission (`501`): only a token fetched after the grant carries
    /// it, so the token goes too (contract §5).
    fn drops_token(&self, outcome: &Outcome) -> bool {
        crate::welink::codes::needs_new_token(outcome)
    }

    fn alert_card_type(&self) -> Option<&'static str> {
        None
    }

    fn takes_link_button(&self, _input: &notify_core::MessageInput, _target: &TargetInput) -> bool {
        false
    }

    fn people_ids(&self) -> Option<crate::PeopleIds> {
        Some(crate::PeopleIds {
            person_key: "welink",
            target_field: "users",
        })
    }

    /// The guide documents no recall for Xiaowei pushes (lines 1519–1640).
    fn plan_recall(&self, _upstream_id: &str, _context: &Value) -> RecallPlan {
        RecallPlan::NotRecallable("WeLink offers no recall for Xiaowei pushes".into())
    }
}
