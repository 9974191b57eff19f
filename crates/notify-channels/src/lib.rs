//! Channel adapters. Each upstream kind lives in its own module and implements [`Channel`]:
//! it turns a checked message and one target into planned upstream calls (parts), builds the
//! HTTP request of a part once the dispatcher has a token, and classifies every answer into an
//! [`Outcome`](notify_core::Outcome).
//!
//! Adapters are pure: no sockets, no SQL, no clocks of their own (time is passed in). Limits,
//! retries, leases and statuses belong to the dispatcher and the store.

pub mod config;
pub mod juzi;
pub mod lane;
pub mod log;
pub mod registry;
mod support;
pub mod targets;
pub mod transport;
pub mod wecom_app;
pub mod wecom_workid;
pub mod welink;
pub mod xiaowei;

pub use config::{
    ChannelConfig, ConfigError, DailyQuota, KindConfig, MemberLimits, RateLimits, ToKindConfig,
};
pub use lane::{LanedPlan, RecallParts};
pub use notify_core::LaneInfo;
pub use registry::{build_channel, ChannelHandle};
pub use transport::{
    Body, FetchedMedia, Method, PartCall, RecallPlan, Settled, StateUpdate, TokenAnswer,
    UpstreamAnswer, UpstreamRequest,
};

use notify_core::{ChannelKind, CheckedMessage, FieldError, Outcome, PartPlan, Plan, TargetInput};

/// One upstream kind. Implementations are stateless apart from their settings, so one instance
/// serves every worker.
/// Where a kind takes directory people's ids: the person's key (`welink`, `wecom`, `workid`,
/// as in `[people.ID]`) and the target field (`users`, `work_ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeopleIds {
    /// The person's key holding the id.
    pub person_key: &'static str,
    /// The target field the ids go in.
    pub target_field: &'static str,
}

pub trait Channel: Send + Sync + std::fmt::Debug {
    /// The kind this adapter speaks.
    fn kind(&self) -> ChannelKind;

    /// The upstream credential this channel's tokens, lanes and quota belong to, e.g.
    /// `welink:<client_id>`. Two channel entries with the same credential share them.
    fn credential(&self) -> String;

    /// Per-interface caps when the channel's `limits` key is unset: the kind's documented
    /// ones, `None` when the upstream documents none.
    fn default_rate_limits(&self) -> Option<RateLimits>;

    /// The egress group of this channel's calls when its upstream caps calls per source IP
    /// (WeLink's host: 3000 per 20 s), `None` for other hosts.
    fn egress_group(&self) -> Option<String>;

    /// Per-member caps (WeCom drops messages over them), `None` when the upstream has none.
    fn member_limits(&self) -> Option<MemberLimits>;

    /// The daily quota this channel's sends count against, `None` for kinds without one.
    fn daily_quota(&self) -> Option<DailyQuota>;

    /// Plans one target's delivery at ingress: the native type, the calls, and whether text was
    /// shortened. A refusal names the field relative to the target (`users`) or the message
    /// (`/title`, with a leading slash meaning "from the message root").
    fn plan(
        &self,
        message: &CheckedMessage,
        target: &TargetInput,
        now_ms: i64,
    ) -> Result<Plan, FieldError>;

    /// The request that fetches a token, or `None` when the channel needs none.
    fn token_request(&self) -> Option<UpstreamRequest>;

    /// Reads the token endpoint's answer.
    fn parse_token(&self, answer: &UpstreamAnswer) -> TokenAnswer;

    /// The HTTP request of one part, with the token added.
    fn request(&self, call: &PartCall<'_>) -> UpstreamRequest;

    /// What an answer to `call` means.
    fn classify(&self, call: &PartCall<'_>, answer: &UpstreamAnswer) -> Outcome;

    /// The upstream's own message in an answer (its message field), for the attempt log.
    fn upstream_message(&self, answer: &UpstreamAnswer) -> Option<String>;

    /// Whether `outcome` means the token that made the call must go although upstream did not
    /// call it invalid (a refused token always goes).
    fn drops_token(&self, outcome: &Outcome) -> bool;

    /// The native type an alert's message takes when its target names none: the one that
    /// shows the title, the alert lines and a state without needing a link (WeLink's plain
    /// `card`; the app card the adapter would pick for a message with fields drops the content
    /// and needs a url). `None`: the adapter's own choice suits alerts.
    fn alert_card_type(&self) -> Option<&'static str>;

    /// Whether the message, as this channel sends it to `target`, has room for one more button
    /// (the acknowledge link): WeLink app cards take 2 side by side or 3 stacked. `false`:
    /// the link goes on a line of its own at the end of the content.
    fn takes_link_button(&self, input: &notify_core::MessageInput, target: &TargetInput) -> bool;

    /// How this kind addresses directory people (`/v1/people`): which of a person's ids it
    /// takes and the target field they go in. `None`: it cannot address people.
    fn people_ids(&self) -> Option<PeopleIds>;

    /// [`classify`](Self::classify) with the upstream's message and the token's fate: what the
    /// dispatcher settles a call with.
    fn settle(&self, call: &PartCall<'_>, answer: &UpstreamAnswer) -> Settled {
        let outcome = self.classify(call, answer);
        let drop_token = self.drops_token(&outcome);
        Settled::new(outcome, self.upstream_message(answer), drop_token)
    }

    /// For channels with no upstream call (`log`): the outcome to record without any HTTP.
    fn local_outcome(&self, _call: &PartCall<'_>) -> Option<Outcome> {
        None
    }

    /// The recall of one sent part, given its upstream id and the delivery's context.
    fn plan_recall(&self, upstream_id: &str, context: &serde_json::Value) -> RecallPlan;

    /// Whether this kind's sent messages can take a state update ([`plan_state`](Self::plan_state)
    /// can succeed): a resolved alert updates such a channel's sent cards instead of sending a
    /// new one. WeLink's cards only.
    fn takes_state(&self) -> bool {
        false
    }

    /// The state update of one sent call of a card (WeLink only); `Err` says why it cannot
    /// take one. `recipients` are the users that call was sent to (a card to more users than
    /// one call takes was sent in several calls, each updated on its own); empty means "the
    /// delivery's users in `context`" (parts stored without recipients).
    fn plan_state(
        &self,
        _upstream_id: &str,
        _recipients: &[String],
        _context: &serde_json::Value,
        _update: &StateUpdate,
    ) -> Result<PartPlan, String> {
        Err(format!("{} messages cannot take a state", self.kind()))
    }
}
