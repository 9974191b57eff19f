//! WeCom messages by employee work ID through a middle platform (002_5e921e94ff34e0dc.txt).

pub mod body;
pub mod codes;
pub mod config;
pub mod token;

use notify_core::{
    ChannelKind, CheckedMessage, FieldError, Outcome, PartOp, PartPlan, Plan, TargetInput,
};
use serde_json::{json, Map, Value};

use crate::support::fit::Fitter;
use crate::support::join_url;
use crate::support::settings::{non_blank, required, safe, secret};
use crate::support::target::{
    all_members, chunks, ids, known_type, no_separator, only, raw_object,
};
use crate::support::wecom::{WecomType, MEMBER_LIMITS};
use crate::ConfigError;
use crate::{Channel, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer, UpstreamRequest};
pub use config::WorkIdConfig;

/// The work-ID adapter.
#[derive(Debug, Clone)]
pub struct WorkIdChannel {
    /// The platform's host; paths `/integration/wx_work/...` are appended.
    pub base_url: String,
    /// The OAuth2 client.
    pub client: token::Client,
    /// Default `companyId`.
    pub company_id: Option<String>,
    /// Default `safe` for files.
    pub safe: Option<u8>,
    /// Per-member caps (config `member_limits`, WeCom's documented ones unset).
    pub member_limits: crate::MemberLimits,
}

impl WorkIdChannel {
    /// The adapter of `[channels.NAME]` of kind `wecom_workid`.
    pub fn from_config(name: &str, config: &WorkIdConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: required(name, "base_url", &config.base_url)?,
            client: token::Client {
                token_url: required(name, "token_url", &config.token_url)?,
                client_id: required(name, "client_id", &config.client_id)?,
                client_secret: secret(name, "client_secret", &config.client_secret)?,
                auth: config.token_auth,
            },
            company_id: non_blank(&config.company_id),
            safe: safe(name, config.safe)?,
            member_limits: config.member_limits.unwrap_or(MEMBER_LIMITS),
        })
    }

    fn company(&self, target: &TargetInput) -> Option<String> {
        target
            .company_id
            .clone()
            .or_else(|| self.company_id.clone())
            .filter(|c| !c.trim().is_empty())
    }
}

impl Channel for WorkIdChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WecomWorkid
    }

    fn credential(&self) -> String {
        format!(
            "wecom_workid:{}:{}",
            self.client.token_url, self.client.client_id
        )
    }

    fn default_rate_limits(&self) -> Option<crate::RateLimits> {
        None
    }

    fn egress_group(&self) -> Option<String> {
        None
    }

    fn member_limits(&self) -> Option<crate::MemberLimits> {
        Some(self.member_limits)
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
        only(target, "wecom_workid", crate::targets::WECOM_WORKID.fields)?;
        no_separator(&target.work_ids, "work_ids")?;
        // The platform takes work IDs, not WeCom user ids: it documents no "everyone" value.
        all_members(&target.work_ids, "work_ids", false, false)?;
        let work_ids = ids(&target.work_ids, "work_ids")?;
        if work_ids.is_empty() {
            return Err(FieldError::new(
                "work_ids",
                "required",
                "a work-ID target needs work_ids",
            ));
        }
        if target.safe.is_some_and(|s| s > 1) {
            return Err(FieldError::new("safe", "invalid", "safe is 0 or 1"));
        }
        let declared = known_type(target, "wecom_workid", crate::targets::WECOM_WORKID.types)?
            .and_then(WecomType::parse);
        let company = self.company(target);
        let mut fit = Fitter::default();
        let (t, mut base) = match raw_object(target)? {
            Some(raw) => (declared.unwrap_or_else(|| body::type_of_raw(&raw)), raw),
            None => {
                let t = declared.unwrap_or_else(|| WecomType::pick(&message.input));
                let safe = target.safe.or(self.safe);
                (t, body::build(t, &message.input, safe, &mut fit)?)
            }
        };
        if let Some(c) = &company {
            base.entry("companyId").or_insert_with(|| c.as_str().into());
        }
        let parts = chunks(&work_ids, body::WORK_IDS_MAX)
            .into_iter()
            .map(|chunk| {
                let mut b = base.clone();
                b.insert("workIds".into(), json!(chunk));
                PartPlan {
                    op: PartOp::Send,
                    interface: body::interface(t).into(),
                    body: Value::Object(b),
                    recipients: chunk,
                    depends_on: None,
                }
            })
            .collect();
        let mut context = Map::new();
        if let Some(c) = base.get("companyId") {
            context.insert("company_id".into(), c.clone());
        }
        Ok(Plan {
            native_type: t.name().into(),
            truncated: fit.truncated(),
            parts,
            awaiting_agent: false,
            context: Value::Object(context),
        })
    }

    fn token_request(&self) -> Option<UpstreamRequest> {
        Some(token::request(&self.client))
    }

    fn parse_token(&self, answer: &UpstreamAnswer) -> TokenAnswer {
        token::parse(answer)
    }

    /// `Authorization: Bearer <token>` on every call (002_… line 13, each request table).
    fn request(&self, call: &PartCall<'_>) -> UpstreamRequest {
        let mut r =
            UpstreamRequest::post_json(join_url(&self.base_url, call.interface), call.body.clone());
        r.headers.push((
            "Authorization".into(),
            format!("Bearer {}", call.token.unwrap_or_default()),
        ));
        r.secret_names = vec!["Authorization".into()];
        r
    }

    fn classify(&self, _call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
        codes::classify(answer)
    }

    /// The platform's envelope is `{code, msg, data, requestId, ok}`.
    fn upstream_message(&self, answer: &UpstreamAnswer) -> Option<String> {
        crate::support::answer::message_field(answer, "msg")
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
        Some(crate::PeopleIds {
            person_key: "workid",
            target_field: "work_ids",
        })
    }

    /// `recall {msgId, companyId}`: within 24 h of the send, repeating its `companyId`.
    fn plan_recall(&self, upstream_id: &str, context: &Value) -> RecallPlan {
        if upstream_id.trim().is_empty() {
            return RecallPlan::NotRecallable(
                "the platform returned no msgId for this call".into(),
            );
        }
        let mut b = Map::new();
        b.insert("msgId".into(), upstream_id.into());
        if let Some(c) = context.get("company_id").filter(|c| c.is_string()) {
            b.insert("companyId".into(), c.clone());
        }
        RecallPlan::call(body::RECALL, Value::Object(b))
    }
}
