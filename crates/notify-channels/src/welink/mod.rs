//! WeLink public-account messages (000_5ea2b8ffe88cf7cd.txt §2.2.2.2): plain card, app card,
//! image and news, their state update and recall.

pub mod body;
pub mod codes;
pub mod config;
pub mod state;
pub mod token;

use notify_core::{
    ChannelKind, CheckedMessage, FieldError, Outcome, PartOp, PartPlan, Plan, TargetInput,
};

use crate::support::fit::Fitter;
use crate::support::join_url;
use crate::support::settings::non_blank;
use crate::support::target::{chunks, ids, known_type, only, raw_object};
use crate::ConfigError;
use crate::{
    Channel, PartCall, RateLimits, RecallPlan, StateUpdate, TokenAnswer, UpstreamAnswer,
    UpstreamRequest,
};
use body::{Defaults, Kind, Range};
pub use config::{WelinkConfig, DEFAULT_EGRESS_GROUP};

impl WelinkChannel {
    /// The adapter of `[channels.NAME]` of kind `welink`.
    pub fn from_config(name: &str, config: &WelinkConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            credentials: token::Credentials::from_keys(
                name,
                &config.base_url,
                &config.client_id,
                &config.client_secret,
            )?,
            public_acc_id: non_blank(&config.public_acc_id),
            owner: non_blank(&config.owner),
            egress_group: egress_group(&config.egress_group),
        })
    }
}

/// The egress group of a WeLink-host channel: its `egress_group`, else
/// [`DEFAULT_EGRESS_GROUP`].
pub fn egress_group(configured: &Option<String>) -> String {
    configured
        .clone()
        .unwrap_or_else(|| DEFAULT_EGRESS_GROUP.into())
}

/// The header carrying the token on every WeLink call (lines 801–802).
pub const AUTH_HEADER: &str = "x-wlk-Authorization";

/// The WeLink adapter.
#[derive(Debug, Clone)]
pub struct WelinkChannel {
    /// Token credential and host.
    pub credentials: token::Credentials,
    /// `publicAccID`; `None`: the notification center.
    pub public_acc_id: Option<String>,
    /// Default `msgOwner`.
    pub owner: Option<String>,
    /// The egress group its calls count against (config `egress_group`, `default` unset).
    pub egress_group: String,
}

/// WeLink guide 2.2.1.4 (000_… lines 716–726): 40/s and 1500/min per client_id per interface,
/// for every kind on WeLink's host.
pub const RATE_LIMITS: RateLimits = RateLimits {
    per_second: 40,
    per_minute: 1500,
};

/// The request of a WeLink-host call: `{base_url}{interface}` with the token header.
pub fn host_request(base_url: &str, call: &PartCall<'_>) -> UpstreamRequest {
    let mut r = UpstreamRequest::post_json(join_url(base_url, call.interface), call.body.clone());
    r.headers
        .push((AUTH_HEADER.into(), call.token.unwrap_or_default().into()));
    r.secret_names = vec![AUTH_HEADER.into()];
    r
}

impl Channel for WelinkChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Welink
    }

    fn credential(&self) -> String {
        format!("welink:{}", self.credentials.client_id)
    }

    fn default_rate_limits(&self) -> Option<RateLimits> {
        Some(RATE_LIMITS)
    }

    fn egress_group(&self) -> Option<String> {
        Some(self.egress_group.clone())
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
        only(target, "welink", crate::targets::WELINK.fields)?;
        let users = ids(&target.users, "users")?;
        let departments = ids(&target.departments, "departments")?;
        let roles = ids(&target.roles, "roles")?;
        if users.is_empty() && departments.is_empty() && roles.is_empty() {
            return Err(FieldError::new(
                "users",
                "required",
                "a WeLink target needs users, departments or roles",
            ));
        }
        let declared =
            known_type(target, "welink", crate::targets::WELINK.types)?.and_then(Kind::parse);
        let m = &message.input;
        let mut fit = Fitter::default();
        let (kind, base) = match raw_object(target)? {
            Some(mut raw) => {
                let kind = declared.unwrap_or_else(|| Kind::of_raw(&raw));
                if let Some(p) = &self.public_acc_id {
                    raw.entry("publicAccID")
                        .or_insert_with(|| p.as_str().into());
                }
                (kind, raw)
            }
            None => {
                let kind = declared.unwrap_or_else(|| Kind::pick(m));
                let defaults = Defaults {
                    owner: self.owner.as_deref(),
                    public_acc_id: self.public_acc_id.as_deref(),
                };
                (kind, body::build(kind, m, &defaults, &mut fit)?)
            }
        };
        let mut parts = Vec::new();
        for (range, list) in [
            (Range::Users, &users),
            (Range::Departments, &departments),
            (Range::Roles, &roles),
        ] {
            for chunk in chunks(list, range.chunk()) {
                parts.push(PartPlan {
                    op: PartOp::Send,
                    interface: kind.interface().into(),
                    body: body::address(&base, range, &chunk),
                    recipients: if range == Range::Users {
                        chunk
                    } else {
                        Vec::new()
                    },
                    depends_on: None,
                });
            }
        }
        let context = state::Context {
            public_acc_id: base
                .get("publicAccID")
                .and_then(|p| p.as_str())
                .map(str::to_string),
            has_state: kind.takes_state() && base.contains_key("messageStatus"),
            by_group: !departments.is_empty() || !roles.is_empty(),
            users,
        };
        Ok(Plan {
            native_type: kind.name().into(),
            truncated: fit.truncated(),
            parts,
            awaiting_agent: false,
            context: context.to_value(),
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

    fn classify(&self, call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome {
        codes::classify(call, answer)
    }

    /// WeLink answers `{code, message}`.
    fn upstream_message(&self, answer: &UpstreamAnswer) -> Option<String> {
        crate::support::answer::message_field(answer, "message")
    }

    /// The missing interface permission (`501`): only a token fetched after the grant carries
    /// it, so the token goes too (contract §5).
    fn drops_token(&self, outcome: &Outcome) -> bool {
        crate::welink::codes::needs_new_token(outcome)
    }

    /// Its plain card shows the alert and carries a state a resolve or acknowledgement updates.
    fn alert_card_type(&self) -> Option<&'static str> {
        Some("card")
    }

    /// App cards (picked for a message with fields or buttons, or named) take 2 buttons side
    /// by side or 3 stacked; the plain card, image and news take none.
    fn takes_link_button(&self, input: &notify_core::MessageInput, target: &TargetInput) -> bool {
        let kind = target
            .kind
            .as_deref()
            .and_then(Kind::parse)
            .unwrap_or_else(|| Kind::pick(input));
        let max = match input.button_layout.unwrap_or_default() {
            notify_core::ButtonLayout::Horizontal => 2,
            notify_core::ButtonLayout::Vertical => 3,
        };
        kind == Kind::AppCard
            && target.raw.is_none()
            && input.buttons.as_ref().map_or(0, Vec::len) < max
    }

    fn people_ids(&self) -> Option<crate::PeopleIds> {
        Some(crate::PeopleIds {
            person_key: "welink",
            target_field: "users",
        })
    }

    fn plan_recall(&self, upstream_id: &str, _context: &serde_json::Value) -> RecallPlan {
        state::plan_recall(upstream_id)
    }

    fn takes_state(&self) -> bool {
        true
    }

    fn plan_state(
        &self,
        upstream_id: &str,
        recipients: &[String],
        context: &serde_json::Value,
        update: &StateUpdate,
    ) -> Result<PartPlan, String> {
        state::plan_state(upstream_id, recipients, context, update)
    }
}
