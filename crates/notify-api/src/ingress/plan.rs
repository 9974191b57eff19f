//! From request bytes to a [`NewMessage`] and its 202 answer: parse (400/422), merge the
//! `Idempotency-Key` header, check the message (422), and let each target's adapter plan its
//! upstream calls (422 naming `targets[i].…`).

use notify_channels::ChannelHandle;
use notify_core::clock::ms_to_rfc3339;
use notify_core::message::ParseError;
use notify_core::validate::{self, text_zh};
use std::sync::Arc;

use notify_core::{
    CheckedMessage, DeliveryId, DeliveryStatus, FieldError, MessageId, MessageInput, PartPlan,
    TargetInput, ValidationLimits,
};
use notify_store::directory::Directory;
use notify_store::{FallbackPlan, NewAlert, NewDelivery, NewMessage, NewPart};

use crate::auth::{Caller, Owner};
use crate::error::ApiError;
use crate::escalation::{self, link, token};
use crate::ingress::alert;
use crate::ingress::canonical::{canonical_json, hash_of};
use crate::ingress::directory::{self, PersonMap};
use crate::state::AppState;
use crate::views::{AcceptedDelivery, AcceptedMessage};

/// A message ready to commit, with the answer it gets.
#[derive(Debug)]
pub struct Accepted {
    /// The rows.
    pub message: NewMessage,
    /// The 202 body.
    pub answer: AcceptedMessage,
}

/// Builds the message of a `POST /v1/messages` body.
pub async fn build(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
    header_key: Option<&str>,
    now: i64,
) -> Result<Accepted, ApiError> {
    let input = parse(body, header_key)?;
    let directory = RequestDirectory::default()
        .for_input(state, &caller.tenant, &input)
        .await?;
    let extras = Extras {
        directory,
        ..Extras::default()
    };
    build_input(state, caller.owner(), input, extras, now)
}

/// Parses a `POST /v1/messages` body (400 malformed, 422 naming the field) and merges the
/// `Idempotency-Key` header into it.
pub fn parse(body: &[u8], header_key: Option<&str>) -> Result<MessageInput, ApiError> {
    let mut input = MessageInput::from_json(body).map_err(|e| match e {
        ParseError::Malformed(m) => ApiError::MalformedJson(m),
        ParseError::Invalid(f) => ApiError::Invalid(f),
    })?;
    if let Some(key) = header_key {
        match &input.idempotency_key {
            Some(k) if k != key => {
                return Err(ApiError::invalid(
                    "idempotency_key",
                    "idempotency_key_mismatch",
                    "the Idempotency-Key header and the body's idempotency_key differ",
                ))
            }
            _ => input.idempotency_key = Some(key.to_string()),
        }
    }
    Ok(input)
}

/// What a message built by the gateway itself (a hook's notification) carries beside its
/// unified body.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Recognises a source's retry or repeat of one notification (see `NewAlert`).
    pub alert_fingerprint: Option<String>,
    /// Why the hook's template could not be rendered.
    pub template_error: Option<String>,
    /// The tenant's directory, read for a message that names people or groups
    /// ([`RequestDirectory`]); `None` when it names none.
    pub directory: Option<Arc<Directory>>,
}

/// One request's view of its tenant's people directory: read at most once, and only when a
/// message names directory people or groups, so a batch or a split notification reads it
/// once for all its messages. A directory change affects only requests accepted after it.
#[derive(Debug, Default)]
pub struct RequestDirectory {
    read: Option<Arc<Directory>>,
}

impl RequestDirectory {
    /// The directory of `tenant` when `input` needs it. A store error (an outage: 503) is the
    /// whole request's, never one message's.
    pub async fn for_input(
        &mut self,
        state: &AppState,
        tenant: &str,
        input: &MessageInput,
    ) -> Result<Option<Arc<Directory>>, ApiError> {
        if !directory::needs_directory(input) {
            return Ok(None);
        }
        if self.read.is_none() {
            self.read = Some(Arc::new(state.store().people().directory(tenant).await?));
        }
        Ok(self.read.clone())
    }
}

/// Builds the message of an already parsed unified body: the checks, the plan per target and
/// the 202 answer, exactly as for `POST /v1/messages`.
pub fn build_input(
    state: &AppState,
    owner: Owner<'_>,
    input: MessageInput,
    extras: Extras,
    now: i64,
) -> Result<Accepted, ApiError> {
    let value = serde_json::to_value(&input).map_err(|e| ApiError::Internal(e.to_string()))?;
    let body_text = canonical_json(&value);
    let body_hash = hash_of(&body_text);
    let limits = ValidationLimits {
        default_ttl_ms: state.config().default_ttl_ms,
        ..ValidationLimits::default()
    };
    let checked = validate::check(input, now, &limits, |name| state.channel(name).is_some())
        .map_err(|e| name_the_channels(e, state))?;
    let id = MessageId::new_at(now);
    let empty = Directory::default();
    let directory = match extras.directory.as_deref() {
        Some(d) => d,
        None if directory::needs_directory(&checked.input) => {
            return Err(ApiError::Internal(
                "the message names directory people but the directory was not read \
                 (build it with plan::build or a RequestDirectory)"
                    .into(),
            ))
        }
        None => &empty,
    };
    let delays = match &checked.input.escalation {
        Some(steps) => escalation::step_delays(steps).map_err(ApiError::Invalid)?,
        None => Vec::new(),
    };
    // Every message with escalation carries its acknowledge link (contract §7).
    let ack_url = (!delays.is_empty()).then(|| {
        let config = state.config();
        format!(
            "{}/ack/{}",
            config.public_url.trim_end_matches('/'),
            token::sign(&config.ack_secret, &id.0)
        )
    });
    let mut planner = Planner {
        state,
        checked: &checked,
        ack_url: ack_url.as_deref(),
        directory,
        now,
        deliveries: Vec::new(),
        answers: Vec::new(),
    };
    for (i, target) in checked.input.targets.iter().enumerate() {
        planner.plan(target, &format!("targets[{i}]"), None)?;
    }
    // Each step's targets become deliveries of this message whose calls are due `after` the
    // accept time (not before the message's own `not_before`) and live as long after that as
    // the message does after acceptance: an outbox row is the step's timer.
    let ttl = checked.expires_at_ms - now;
    let steps = checked.input.escalation.iter().flatten();
    for (step, (s, delay)) in steps.zip(delays.iter()).enumerate() {
        let due = (now + delay).max(checked.not_before_ms.unwrap_or(now));
        let timing = StepTiming {
            step: step as i64,
            due,
            expires: due + ttl,
        };
        for (j, target) in s.targets.iter().enumerate() {
            planner.plan(
                target,
                &format!("escalation[{step}].targets[{j}]"),
                Some(timing),
            )?;
        }
    }
    let Planner {
        deliveries,
        answers,
        ..
    } = planner;
    let answer = AcceptedMessage {
        id: id.0.clone(),
        status: "accepted".into(),
        created_at: ms_to_rfc3339(now),
        idempotency_key: checked.input.idempotency_key.clone(),
        deliveries: answers,
        ack_url,
    };
    let response = serde_json::to_string(&answer).map_err(|e| ApiError::Internal(e.to_string()))?;
    let message = NewMessage {
        id: id.0,
        tenant: owner.tenant.to_string(),
        caller: owner.name.to_string(),
        idempotency_key: checked.input.idempotency_key.clone(),
        body_hash,
        priority: checked.input.priority.rank(),
        // NUL cannot be stored in a Postgres text column; the title is only for search.
        title: text_zh(&checked.input.title).replace('\0', ""),
        body: body_text,
        response,
        created_at: now,
        not_before: checked.not_before_ms,
        expires_at: checked.expires_at_ms,
        deliveries,
        // Storm control, resolve and acknowledgement are the store's (issue 15 / 16); the
        // window is read here so that a bad one is a 422 before anything is stored.
        alert: checked
            .input
            .alert
            .as_ref()
            .map(|a| -> Result<NewAlert, ApiError> {
                let window = alert::check(a).map_err(ApiError::Invalid)?;
                Ok(NewAlert {
                    key: a.key.clone(),
                    status: a.status,
                    dedup_window_ms: window,
                    fingerprint: extras.alert_fingerprint.clone(),
                })
            })
            .transpose()?,
        template_error: extras.template_error,
        digest_of: None,
        state_updates: Vec::new(),
    };
    Ok(Accepted { message, answer })
}

/// When an escalation step's delivery is due, and its deadline.
#[derive(Debug, Clone, Copy)]
struct StepTiming {
    step: i64,
    due: i64,
    expires: i64,
}

/// Plans targets into the deliveries of one message, in order: the message's own targets and
/// every escalation step's go through the same adapters the same way.
struct Planner<'a> {
    state: &'a AppState,
    checked: &'a CheckedMessage,
    ack_url: Option<&'a str>,
    directory: &'a Directory,
    now: i64,
    deliveries: Vec<NewDelivery>,
    answers: Vec<AcceptedDelivery>,
}

impl Planner<'_> {
    /// Plans `target` (written at `path`, e.g. `targets[0]`) as the next delivery; `step` for
    /// an escalation step's target.
    fn plan(
        &mut self,
        target: &TargetInput,
        path: &str,
        step: Option<StepTiming>,
    ) -> Result<(), ApiError> {
        let (state, now) = (self.state, self.now);
        let handle = state.channel(&target.channel).ok_or_else(|| {
            ApiError::Invalid(name_the_channels(
                FieldError::new(
                    format!("{path}.channel"),
                    "unknown_channel",
                    format!("no channel named {:?} is configured", target.channel),
                ),
                state,
            ))
        })?;
        // Directory people and groups become this kind's ids; the delivery remembers whom
        // each id stands for, so a fallback can reach the same people elsewhere.
        let (expanded, people) =
            directory::expand(target, directory::Addressing::of(handle), self.directory)
                .map_err(|e| ApiError::Invalid(e.under(path)))?;
        let fallback = match &target.fallback {
            Some(fb) => Some(
                check_fallback(state, self.checked, fb, &people, self.directory, now)
                    .map_err(|e| ApiError::Invalid(locate(e, path)))?,
            ),
            None => None,
        };
        let linked;
        let message = match self.ack_url {
            Some(url) => {
                linked = CheckedMessage {
                    input: link::with_ack_link(
                        &self.checked.input,
                        handle
                            .adapter
                            .takes_link_button(&self.checked.input, target),
                        url,
                    ),
                    ..self.checked.clone()
                };
                &linked
            }
            None => self.checked,
        };
        let mut delivery = plan_target(
            handle,
            message,
            &expanded,
            self.deliveries.len() as i64,
            now,
        )
        .map_err(|e| ApiError::Invalid(locate(e, path)))?;
        delivery.people = (!people.is_empty())
            .then(|| serde_json::to_string(&people))
            .transpose()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        delivery.fallback = fallback
            .map(|f| serde_json::to_string(&f))
            .transpose()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        delivery.escalation_step = step.map(|s| s.step);
        delivery.due_at = step.map(|s| s.due);
        delivery.expires_at = step.map(|s| s.expires);
        self.answers.push(AcceptedDelivery {
            id: delivery.id.clone(),
            channel: delivery.channel.clone(),
            kind: delivery.kind,
            native_type: delivery.native_type.clone(),
            status: delivery.status.to_string(),
            upstream_ids: Vec::new(),
            failed_recipients: Vec::new(),
            truncated: delivery.truncated,
            parts: delivery.parts.len(),
            attempts: Vec::new(),
            escalation_step: delivery.escalation_step,
            due_at: step.map(|s| ms_to_rfc3339(s.due)),
        });
        self.deliveries.push(delivery);
        Ok(())
    }
}

/// The configured channel named by a target's `channel` (error relative to the target).
fn channel_of<'a>(state: &'a AppState, name: &str) -> Result<&'a ChannelHandle, FieldError> {
    state
        .channel(name)
        .ok_or_else(|| FieldError::new("channel", "unknown_channel", "no such channel"))
}

/// Resolves a target's fallback through the directory and plans it once, so that a fallback
/// that could never be sent is a 422 now rather than a silent loss later. Errors are relative
/// to the target (`fallback.users`) or the message (`/title`).
fn check_fallback(
    state: &AppState,
    checked: &CheckedMessage,
    fallback: &TargetInput,
    primary: &PersonMap,
    directory: &Directory,
    now: i64,
) -> Result<FallbackPlan, FieldError> {
    let handle = channel_of(state, &fallback.channel).map_err(|e| e.under("fallback"))?;
    let plan = directory::resolve_fallback(
        fallback,
        directory::Addressing::of(handle),
        primary,
        directory,
    )?;
    plan_target(handle, checked, &plan.target, 0, now).map_err(|e| {
        if e.field.starts_with('/') {
            e
        } else {
            e.under("fallback")
        }
    })?;
    Ok(plan)
}

/// Plans one target (its people and groups already expanded) with its channel's adapter: the
/// delivery to store, number `seq` of its message. The fallback loop plans a fallback target
/// with it too. Errors are relative to the target, or name a message field as `/title`.
pub fn plan_target(
    handle: &ChannelHandle,
    checked: &CheckedMessage,
    target: &TargetInput,
    seq: i64,
    now: i64,
) -> Result<NewDelivery, FieldError> {
    let plan = handle.adapter.plan(checked, target, now)?;
    let status = if plan.awaiting_agent {
        DeliveryStatus::AwaitingAgent
    } else {
        DeliveryStatus::Queued
    };
    let parts = plan
        .parts
        .iter()
        .enumerate()
        .map(|(seq, p)| new_part(handle, p, seq as i64, now))
        .collect::<Vec<_>>();
    Ok(NewDelivery {
        id: DeliveryId::new_at(now).0,
        seq,
        channel: handle.name.clone(),
        kind: handle.kind(),
        native_type: plan.native_type.clone(),
        status,
        truncated: plan.truncated,
        context: plan.context.to_string(),
        // A waiting (Juzi) delivery is found by its chat when the sidebar opens there.
        chat_key: plan
            .awaiting_agent
            .then(|| notify_channels::juzi::context::chat_key_of(&plan.context))
            .flatten(),
        parts,
        ..NewDelivery::default()
    })
}

/// An unknown channel's error also lists the names that are configured, so the caller can
/// correct a typo without asking the operator.
fn name_the_channels(mut e: FieldError, state: &AppState) -> FieldError {
    if e.code == "unknown_channel" {
        let names: Vec<String> = state
            .channels()
            .iter()
            .map(|c| format!("{:?} ({})", c.name, c.kind()))
            .collect();
        e.message = if names.is_empty() {
            format!("{}; no channel is configured", e.message)
        } else {
            format!(
                "{}; the configured channels are {}",
                e.message,
                names.join(", ")
            )
        };
    }
    e
}

/// Puts an adapter's field error where the caller wrote it: `targets[i].users`, or a message
/// field (`/title` → `title`). `path` is where the target was written (`targets[2]`,
/// `escalation[0].targets[1]`).
pub fn locate(e: FieldError, path: &str) -> FieldError {
    if let Some(rest) = e.field.strip_prefix('/') {
        let rest = rest.to_string();
        FieldError { field: rest, ..e }
    } else {
        e.under(path)
    }
}

/// A stored part of a planned call, in the channel's lane for its interface.
pub fn new_part(handle: &ChannelHandle, p: &PartPlan, seq: i64, now: i64) -> NewPart {
    NewPart::planned(handle.lane(&p.interface), p, seq, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_land_under_their_target_or_the_root() {
        let e = FieldError::new("users", "required", "x");
        assert_eq!(locate(e, "targets[2]").field, "targets[2].users");
        let e = FieldError::new("/title", "too_long", "x");
        assert_eq!(locate(e, "targets[0]").field, "title");
        let e = FieldError::new("", "invalid", "x");
        assert_eq!(locate(e, "targets[1]").field, "targets[1]");
        let e = FieldError::new("users", "required", "x");
        assert_eq!(
            locate(e, "escalation[0].targets[1]").field,
            "escalation[0].targets[1].users"
        );
    }
}
