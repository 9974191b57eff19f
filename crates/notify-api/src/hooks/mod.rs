//! Alert sources (contract §6): `[hooks.NAME]` turns Alertmanager, Grafana or any JSON webhook
//! into unified messages with an `alert` (`POST /v1/hooks/{name}`), and previews them
//! (`POST /v1/hooks/{name}/preview`).
//!
//! [`Hook::drafts`] reads a payload ([`alertmanager`], [`grafana`], [`generic`]), maps it
//! ([`mapping`], or the hook's [`template`]), picks the targets (first matching route, else
//! the hook's) and returns the message bodies; the route builds and commits them exactly as
//! `POST /v1/messages` does.

pub mod alertmanager;
pub mod auth;
pub mod config;
pub mod generic;
pub mod grafana;
pub mod mapping;
pub mod model;
pub mod preview;
pub mod template;

use std::collections::{BTreeMap, HashMap};

use notify_core::message::{
    AlertInput, AlertStatus, Bilingual, EscalationStep, MessageInput, StateColor, TargetInput, Text,
};
use serde_json::Value;

pub use config::{HookConfig, HookFormat, RouteConfig, TemplateConfig};

use crate::auth::Owner;
use crate::error::ApiError;
use crate::ingress::plan::Extras;
use config::Route;
use mapping::Mapped;
use model::{Alert, Labels, Notification};

/// Why a hook cannot be set up or a payload cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// A bad `[hooks.NAME]` table; the text starts with the key.
    #[error("{0}")]
    Config(String),
    /// The payload is not JSON (400).
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// The payload is JSON of the wrong shape (422 naming the field).
    #[error("{field}: {message}")]
    Payload {
        /// Where, as a path into the payload.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl From<HookError> for ApiError {
    fn from(e: HookError) -> Self {
        match e {
            HookError::Config(m) => ApiError::Internal(m),
            HookError::Malformed(m) => ApiError::MalformedJson(m),
            HookError::Payload { field, message } => ApiError::invalid(field, "invalid", message),
        }
    }
}

/// The WeLink card state of a firing alert's message (a resolve or an acknowledgement later
/// updates the same card).
pub const FIRING_STATE: (&str, &str) = ("告警中", "firing");
/// The state of a resolved alert's message sent as a card of its own.
pub const RESOLVED_STATE: (&str, &str) = ("已恢复", "resolved");

/// One message a notification becomes, before it is planned.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The unified body.
    pub input: MessageInput,
    /// Its alert fingerprint and template error.
    pub extras: Extras,
}

/// A configured hook, ready to take payloads.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Its name (the URL's `{name}`).
    pub name: String,
    /// Its table.
    pub config: HookConfig,
    /// `hook:NAME`, the caller its messages are stored under.
    caller_name: String,
    /// The compiled matchers of `config.routes`, in the same order.
    routes: Vec<Route>,
}

/// Every configured hook, by name.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    by_name: HashMap<String, Hook>,
}

impl Hooks {
    /// Checks and compiles every `[hooks.NAME]`; the error names the key.
    pub fn new(configs: &BTreeMap<String, HookConfig>) -> Result<Self, HookError> {
        let mut by_name = HashMap::with_capacity(configs.len());
        for (name, c) in configs {
            let routes = config::check(name, c)?;
            by_name.insert(
                name.clone(),
                Hook {
                    name: name.clone(),
                    config: c.clone(),
                    caller_name: format!("hook:{name}"),
                    routes,
                },
            );
        }
        Ok(Self { by_name })
    }

    /// The hook named `name`.
    pub fn get(&self, name: &str) -> Option<&Hook> {
        self.by_name.get(name)
    }
}

/// One unit of a payload that becomes one message.
struct Unit {
    labels: Labels,
    status: AlertStatus,
    key: String,
    fingerprint: String,
    mapped: Mapped,
    context: Value,
}

impl Hook {
    /// Whose a hook's messages are: `hook:NAME` in the hook's tenant.
    pub fn owner(&self) -> Owner<'_> {
        Owner {
            tenant: &self.config.tenant,
            name: &self.caller_name,
        }
    }

    /// The targets and escalation for a notification with `labels`: the first route that
    /// matches, else the hook's own targets.
    pub fn select(&self, labels: &Labels) -> (Vec<TargetInput>, Option<Vec<EscalationStep>>) {
        let configs = self.config.routes.iter();
        match configs
            .zip(&self.routes)
            .find(|(c, r)| r.matches(c, labels))
        {
            Some((c, _)) => (c.targets.clone(), c.escalation.clone()),
            None => (self.config.targets.clone(), None),
        }
    }

    /// The messages a payload becomes (none when all of it is resolved and the hook does not
    /// send resolved notifications). 400 for a payload that is not JSON, 422 for one that is
    /// not a notification of the hook's format.
    pub fn drafts(&self, body: &[u8]) -> Result<Vec<Draft>, HookError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| HookError::Malformed(e.to_string()))?;
        if !value.is_object() {
            return Err(HookError::Payload {
                field: String::new(),
                message: "the payload must be a JSON object".into(),
            });
        }
        let units = match self.config.format {
            HookFormat::Alertmanager => self.units(alertmanager::parse(&value)?, &value),
            HookFormat::Grafana => self.units(grafana::parse(&value)?, &value),
            HookFormat::Generic => vec![self.generic_unit(&value)],
        };
        Ok(units
            .into_iter()
            .filter(|u| self.config.send_resolved || u.status == AlertStatus::Firing)
            .map(|u| self.draft(u))
            .collect())
    }

    fn units(&self, n: Notification, payload: &Value) -> Vec<Unit> {
        if !self.config.split {
            let alerts: Vec<&Alert> = n.alerts.iter().collect();
            let key = mapping::alert_key(&self.name, &n.group_key);
            let mut labels = n.group_labels.clone();
            labels.extend(n.common_labels.clone());
            return vec![Unit {
                fingerprint: mapping::fingerprint(&key, n.status, &alerts),
                labels,
                status: n.status,
                key,
                mapped: mapping::map_group(&n),
                context: payload.clone(),
            }];
        }
        let raw_alerts = payload.get("alerts").and_then(Value::as_array);
        n.alerts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let key = mapping::alert_key(&self.name, &a.fingerprint);
                // The template sees the whole payload and, as `alert`, this alert as sent.
                let mut context = payload.clone();
                if let (Some(obj), Some(raw)) =
                    (context.as_object_mut(), raw_alerts.and_then(|r| r.get(i)))
                {
                    obj.insert("alert".into(), raw.clone());
                }
                Unit {
                    fingerprint: mapping::fingerprint(&key, a.status, &[a]),
                    labels: a.labels.clone(),
                    status: a.status,
                    key,
                    mapped: mapping::map_alert(&n, a),
                    context,
                }
            })
            .collect()
    }

    fn generic_unit(&self, payload: &Value) -> Unit {
        let g = generic::parse(&self.config, payload);
        let key = mapping::alert_key(&self.name, g.key.as_deref().unwrap_or(""));
        // Top-level text, number and boolean values are the labels routes match.
        let labels: Labels = payload
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k.clone(), s.clone())),
                        Value::Number(_) | Value::Bool(_) => Some((k.clone(), v.to_string())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fingerprint = {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            h.update(key.as_bytes());
            h.update([0x1e]);
            h.update(g.status.as_str().as_bytes());
            h.update([0x1e]);
            // serde_json keeps object keys sorted: equal payloads give equal text.
            h.update(payload.to_string().as_bytes());
            hex::encode(h.finalize())
        };
        let title = g
            .title
            .clone()
            .or_else(|| g.content.clone())
            .unwrap_or_else(|| self.name.clone());
        Unit {
            labels,
            status: g.status,
            key,
            fingerprint,
            mapped: Mapped {
                title: Text::Plain(mapping::shorten(&title, 200)),
                content: Text::Plain(mapping::shorten(
                    g.content.as_deref().unwrap_or(""),
                    GENERIC_CONTENT_MAX_CHARS,
                )),
                fields: Vec::new(),
                url: g.url,
            },
            context: payload.clone(),
        }
    }

    fn draft(&self, u: Unit) -> Draft {
        let (targets, escalation) = self.select(&u.labels);
        let (mapped, template_error) = match &self.config.template {
            None => (u.mapped, None),
            Some(t) => self.apply(t, u.mapped, &u.context),
        };
        let url = mapped
            .url
            .filter(|u| notify_core::validate::check_url(u, &["http", "https"]).is_ok());
        let state = match u.status {
            AlertStatus::Firing => (FIRING_STATE, StateColor::Orange),
            AlertStatus::Resolved => (RESOLVED_STATE, StateColor::Gray),
        };
        let input = MessageInput {
            title: Some(mapped.title),
            content: Some(mapped.content).filter(|c| !c.is_empty()),
            fields: Some(mapped.fields).filter(|f| !f.is_empty()),
            url,
            state: Some(Bilingual {
                zh: Some(state.0 .0.into()),
                en: Some(state.0 .1.into()),
            }),
            state_color: Some(state.1),
            targets,
            escalation,
            alert: Some(AlertInput {
                key: u.key,
                status: u.status,
                dedup_window: self.config.dedup_window.clone(),
            }),
            ..MessageInput::default()
        };
        Draft {
            input,
            extras: Extras {
                alert_fingerprint: Some(u.fingerprint),
                template_error,
                directory: None,
            },
        }
    }

    /// The template's title and content over the default mapping. All or nothing: when a
    /// template fails, the default mapping is kept whole (a half-rendered message would mix
    /// two mappings) with the reason.
    fn apply(
        &self,
        t: &TemplateConfig,
        default: Mapped,
        context: &Value,
    ) -> (Mapped, Option<String>) {
        let mut m = default.clone();
        for (src, slot) in [(&t.title, &mut m.title), (&t.content, &mut m.content)] {
            let Some(src) = src else { continue };
            match template::render(src, context) {
                Ok(text) if !text.trim().is_empty() => *slot = Text::Plain(text),
                // Nothing rendered: the default text stays, so the message is never empty.
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(hook = %self.name, error = %e, "hook template failed; default mapping used");
                    return (default, Some(e));
                }
            }
        }
        (m, None)
    }
}

/// Targets that name no `type` get their channel's alert card type
/// (`Channel::alert_card_type`; WeLink's plain `card`: it shows the title, the alerts'
/// summaries (the content) and the state, needs no link, and ignores `fields`, which other
/// channels show as lines). Left to itself the WeLink adapter would pick the app card for a
/// message with fields, which drops the content and refuses a message without a link. A target
/// that names its type (`app_card`: labels as lines, needs a url) keeps it. Escalation steps'
/// targets are treated the same.
pub fn welink_cards(input: &mut MessageInput, card_type_of: impl Fn(&str) -> Option<&'static str>) {
    let fit = |t: &mut TargetInput| {
        if t.kind.is_none() {
            t.kind = card_type_of(&t.channel).map(str::to_string);
        }
    };
    input.targets.iter_mut().for_each(fit);
    for step in input.escalation.iter_mut().flatten() {
        step.targets.iter_mut().for_each(fit);
    }
}

/// Most characters of a generic payload's content.
const GENERIC_CONTENT_MAX_CHARS: usize = 4_000;
