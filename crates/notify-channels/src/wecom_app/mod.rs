//! WeCom app messages (`/cgi-bin/message/send`): text, textcard, markdown, news, image and file,
//! the media upload the last two need, and the recall.

pub mod body;
pub mod codes;
pub mod config;
pub mod jssdk;
pub mod token;

use notify_core::{
    ChannelKind, CheckedMessage, FieldError, Outcome, PartOp, PartPlan, Plan, TargetInput,
};
use serde_json::{json, Value};

use crate::support::fit::Fitter;
use crate::support::join_url;
use crate::support::settings::{non_blank, required, safe, secret};
use crate::support::target::{all_members, ids, known_type, no_separator, only, raw_object};
use crate::support::wecom::{WecomType, MARKDOWN_MAX, MEMBER_LIMITS};
use crate::ConfigError;
use crate::{Body, Channel, PartCall, RecallPlan, TokenAnswer, UpstreamAnswer, UpstreamRequest};
use body::AppSettings;
pub use config::WecomAppConfig;

/// The WeCom app adapter.
#[derive(Debug, Clone)]
pub struct WecomAppChannel {
    /// Host and app secret.
    pub credentials: token::AppCredentials,
    /// `agentid`.
    pub agent_id: i64,
    /// Default `safe`.
    pub safe: u8,
    /// Markdown limit in bytes (2048 unless configured).
    pub markdown_max: usize,
    /// Whether a target may name `users: ["@all"]`, every member of the app (config
    /// `allow_all`, off by default).
    pub allow_all: bool,
    /// Per-member caps (config `member_limits`, WeCom's documented ones unset).
    pub member_limits: crate::MemberLimits,
}

impl WecomAppChannel {
    /// The adapter of `[channels.NAME]` of kind `wecom_app`.
    pub fn from_config(name: &str, config: &WecomAppConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            credentials: token::AppCredentials {
                base_url: non_blank(&config.base_url)
                    .unwrap_or_else(|| config::BASE_URL.to_string()),
                corp_id: required(name, "corp_id", &config.corp_id)?,
                corp_secret: secret(name, "corp_secret", &config.corp_secret)?,
            },
            agent_id: config
                .agent_id
                .ok_or_else(|| ConfigError::new(name, "agent_id", "is required for this kind"))?,
            safe: safe(name, config.safe)?.unwrap_or(0),
            markdown_max: config.markdown_max_bytes.unwrap_or(MARKDOWN_MAX),
            allow_all: config.allow_all,
            member_limits: config.member_limits.unwrap_or(MEMBER_LIMITS),
        })
    }

    fn settings(&self, target: &TargetInput) -> AppSettings {
        AppSettings {
            agent_id: self.agent_id,
            safe: target.safe.unwrap_or(self.safe),
            markdown_max: if self.markdown_max == 0 {
                MARKDOWN_MAX
            } else {
                self.markdown_max
            },
        }
    }
}

impl Channel for WecomAppChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WecomApp
    }

    /// One token per app secret (UPSTREAM-FACTS line 11).
    fn credential(&self) -> String {
        format!("wecom_app:{}:{}", self.credentials.corp_id, self.agent_id)
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
        only(target, "wecom_app", crate::targets::WECOM_APP.fields)?;
        for (list, field) in [
            (&target.users, "users"),
            (&target.parties, "parties"),
            (&target.tags, "tags"),
        ] {
            no_separator(list, field)?;
        }
        let others = [&target.parties, &target.tags]
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
        all_members(&target.users, "users", self.allow_all, others)?;
        let users = ids(&target.users, "users")?;
        let parties = ids(&target.parties, "parties")?;
        let tags = ids(&target.tags, "tags")?;
        if users.is_empty() && parties.is_empty() && tags.is_empty() {
            // All empty is 82001 upstream (UPSTREAM-FACTS line 19).
            return Err(FieldError::new(
                "users",
                "required",
                "a WeCom target needs users, parties or tags",
            ));
        }
        if target.safe.is_some_and(|s| s > 1) {
            return Err(FieldError::new("safe", "invalid", "safe is 0 or 1"));
        }
        let declared = known_type(target, "wecom_app", crate::targets::WECOM_APP.types)?
            .and_then(WecomType::parse);
        let mut fit = Fitter::default();
        let (native_type, base, upload) = match raw_object(target)? {
            Some(mut raw) => {
                raw.insert("agentid".into(), self.agent_id.into());
                let t = raw
                    .get("msgtype")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or(declared.map(|d| d.name().to_string()))
                    .unwrap_or_else(|| "text".into());
                (t, raw, None)
            }
            None => {
                let t = declared.unwrap_or_else(|| WecomType::pick(&message.input));
                let (b, upload) = body::build(t, &message.input, &self.settings(target), &mut fit)?;
                (t.name().to_string(), b, upload)
            }
        };
        let mut parts = Vec::new();
        if let Some(u) = upload {
            parts.push(PartPlan {
                op: PartOp::Upload,
                interface: body::UPLOAD.into(),
                body: u,
                recipients: Vec::new(),
                depends_on: None,
            });
        }
        let depends_on = if parts.is_empty() { None } else { Some(0) };
        for (u, p, t) in body::chunk_all(&users, &parties, &tags) {
            parts.push(PartPlan {
                op: PartOp::Send,
                interface: body::SEND.into(),
                body: body::address(&base, &u, &p, &t),
                recipients: u,
                depends_on,
            });
        }
        Ok(Plan {
            native_type,
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
        let url = join_url(&self.credentials.base_url, call.interface);
        let token = call.token.unwrap_or_default().to_string();
        let mut r = if call.op == PartOp::Upload {
            upload_request(url, call)
        } else {
            UpstreamRequest::post_json(url, with_media_id(call))
        };
        r.query.insert(0, ("access_token".into(), token));
        r.secret_names = vec!["access_token".into()];
        r
    }

    fn classify(&self, call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
        codes::classify(call, answer)
    }

    /// WeCom answers `{errcode, errmsg}`.
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
        Some(crate::PeopleIds {
            person_key: "wecom",
            target_field: "users",
        })
    }

    /// `message/recall {msgid}`, for messages up to 24 h old (UPSTREAM-FACTS line 48).
    fn plan_recall(&self, upstream_id: &str, _context: &Value) -> RecallPlan {
        if upstream_id.trim().is_empty() {
            return RecallPlan::NotRecallable("WeCom returned no msgid for this call".into());
        }
        RecallPlan::call(body::RECALL, json!({ "msgid": upstream_id }))
    }
}

/// `media/upload?type=` with the file in the multipart field `media` (UPSTREAM-FACTS line 50).
/// The dispatcher fetched the file named by the part's `source_url`.
fn upload_request(url: String, call: &PartCall<'_>) -> UpstreamRequest {
    let media_type = call
        .body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("file")
        .to_string();
    let mut r = UpstreamRequest::post_json(url, Value::Null);
    r.query.push(("type".into(), media_type));
    r.body = match call.media {
        Some(m) => Body::Multipart {
            field: "media".into(),
            filename: m.filename.clone(),
            content_type: m.content_type.clone(),
            bytes: m.bytes.clone(),
        },
        None => Body::Multipart {
            field: "media".into(),
            filename: "missing".into(),
            content_type: "application/octet-stream".into(),
            bytes: Vec::new(),
        },
    };
    r
}

/// The stored body with the upload's `media_id` put into `body[msgtype].media_id`.
fn with_media_id(call: &PartCall<'_>) -> Value {
    let mut body = call.body.clone();
    if let Some(id) = call.dependency_id {
        let msgtype = body
            .get("msgtype")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(payload) = body.get_mut(&msgtype).and_then(Value::as_object_mut) {
            payload.insert("media_id".into(), id.into());
        }
    }
    body
}
