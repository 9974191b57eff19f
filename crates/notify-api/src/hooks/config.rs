//! `[hooks.NAME]` (contract §6): what a hook's TOML table holds, and its check at start-up,
//! which compiles the routes' regular expressions and templates so that a bad one stops the
//! gateway with the key's name instead of failing the first alert.

use std::collections::BTreeMap;

use notify_core::message::{EscalationStep, TargetInput};
use notify_core::Secret;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::hooks::HookError;

/// The payload a hook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookFormat {
    /// Prometheus Alertmanager's webhook (payload version 4).
    Alertmanager,
    /// Grafana unified alerting's webhook contact point.
    Grafana,
    /// Any JSON object, read with the hook's JSON pointers.
    Generic,
}

/// One `[hooks.NAME]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// What the source posts.
    pub format: HookFormat,
    /// The bearer token (or basic-auth password) the source presents; may be `env:VAR`.
    pub token: Secret,
    /// The tenant whose messages the hook's notifications become.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Targets when no route matches.
    #[serde(default)]
    pub targets: Vec<TargetInput>,
    /// False: one message per notification (an alert group); true: one per alert.
    #[serde(default)]
    pub split: bool,
    /// False: resolved notifications (or alerts, with `split`) are dropped with a 200.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The messages' `alert.dedup_window` ("5m"); the message default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_window: Option<String>,
    /// Label routes, tried in order; the first that matches gives the targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Replaces the default title and content (Jinja, rendered with the payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateConfig>,
    /// `generic`: JSON pointer of the title (e.g. `/alert/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `generic`: JSON pointer of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// `generic`: JSON pointer of the alert key (none: the hook's name alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `generic`: JSON pointer of the status (`resolved` or `ok`: resolved; else firing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `generic`: JSON pointer of the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `[[hooks.NAME.routes]]`: label matchers and the targets they send to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Labels that must equal these values.
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub match_eq: BTreeMap<String, String>,
    /// Labels that must match these regular expressions (anchored, as in Alertmanager).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_re: BTreeMap<String, String>,
    /// Where a matching notification goes.
    pub targets: Vec<TargetInput>,
    /// Escalation steps of the route's messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Vec<EscalationStep>>,
}

/// `template = { title = "…", content = "…" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// Template of the title (both languages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Template of the content (both languages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl HookConfig {
    /// Every channel the hook's targets name, with the key it is written at under
    /// `hooks.NAME` (`routes[0].escalation[1].targets[0].channel`): its own targets, each
    /// route's and each route's escalation steps', and their fallbacks. The gateway checks them
    /// against `[channels]` at start-up.
    pub fn channel_refs(&self) -> Vec<(String, &str)> {
        fn add<'a>(out: &mut Vec<(String, &'a str)>, at: String, t: &'a TargetInput) {
            out.push((format!("{at}.channel"), t.channel.as_str()));
            if let Some(fb) = &t.fallback {
                add(out, format!("{at}.fallback"), fb);
            }
        }
        let mut out = Vec::new();
        for (j, t) in self.targets.iter().enumerate() {
            add(&mut out, format!("targets[{j}]"), t);
        }
        for (i, r) in self.routes.iter().enumerate() {
            for (j, t) in r.targets.iter().enumerate() {
                add(&mut out, format!("routes[{i}].targets[{j}]"), t);
            }
            for (k, step) in r.escalation.iter().flatten().enumerate() {
                for (j, t) in step.targets.iter().enumerate() {
                    add(
                        &mut out,
                        format!("routes[{i}].escalation[{k}].targets[{j}]"),
                        t,
                    );
                }
            }
        }
        out
    }
}

fn default_tenant() -> String {
    "default".into()
}

fn yes() -> bool {
    true
}

/// The compiled regular expressions of one route (the rest of it is its [`RouteConfig`]).
#[derive(Debug, Clone)]
pub struct Route {
    /// Anchored regular expressions, by label.
    match_re: Vec<(String, Regex)>,
}

impl Route {
    /// True when every matcher of `config` (this route's table) holds for `labels` (a missing
    /// label is the empty string, as in Alertmanager).
    pub fn matches(&self, config: &RouteConfig, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        config.match_eq.iter().all(|(k, v)| get(k) == v)
            && self.match_re.iter().all(|(k, re)| re.is_match(get(k)))
    }
}

/// Longest template source accepted, so that the configuration cannot hide a huge program.
const TEMPLATE_MAX_BYTES: usize = 16 * 1024;

/// Longest hook name: its alerts' keys (`NAME/…`, at most 200 characters) keep room for the
/// source's key or its hash.
const NAME_MAX_CHARS: usize = 64;

/// Checks one hook's table and compiles its routes (one per `routes[i]`, in order); the error
/// names the key under `hooks.NAME`.
pub fn check(name: &str, c: &HookConfig) -> Result<Vec<Route>, HookError> {
    let at = |key: &str| format!("hooks.{name}.{key}");
    let bad = |key: String, why: String| HookError::Config(format!("{key}: {why}"));
    if name.is_empty()
        || name.len() > NAME_MAX_CHARS
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(bad(
            format!("hooks.{name}"),
            format!(
                "a hook's name takes 1 to {NAME_MAX_CHARS} letters, digits, '-' and '_' \
                 (it is a URL path segment and begins its alerts' keys)"
            ),
        ));
    }
    if c.token.is_empty() {
        return Err(bad(at("token"), "is required".into()));
    }
    if c.tenant.trim().is_empty() {
        return Err(bad(at("tenant"), "must not be empty".into()));
    }
    if let Some(w) = &c.dedup_window {
        crate::ingress::alert::dedup_window_ms(w)
            .map_err(|e| bad(at("dedup_window"), e.message))?;
    }
    let generic_keys = [
        ("title", &c.title),
        ("content", &c.content),
        ("key", &c.key),
        ("status", &c.status),
        ("url", &c.url),
    ];
    for (key, pointer) in generic_keys {
        match (c.format, pointer) {
            (HookFormat::Generic, Some(p)) if !p.is_empty() && !p.starts_with('/') => {
                return Err(bad(
                    at(key),
                    format!("{p:?} is not a JSON pointer (it starts with '/')"),
                ))
            }
            (HookFormat::Alertmanager | HookFormat::Grafana, Some(_)) => {
                return Err(bad(
                    at(key),
                    "JSON pointers are for format = \"generic\" only".into(),
                ))
            }
            _ => {}
        }
    }
    if c.format == HookFormat::Generic
        && c.title.is_none()
        && c.content.is_none()
        && c.template.is_none()
    {
        return Err(bad(
            at("title"),
            "a generic hook needs a title or content pointer, or a template".into(),
        ));
    }
    if c.targets.is_empty() {
        return Err(bad(
            at("targets"),
            "at least one target is required (used when no route matches)".into(),
        ));
    }
    if let Some(t) = &c.template {
        for (key, src) in [("title", &t.title), ("content", &t.content)] {
            if let Some(src) = src {
                if src.len() > TEMPLATE_MAX_BYTES {
                    return Err(bad(
                        at(&format!("template.{key}")),
                        format!("longer than {TEMPLATE_MAX_BYTES} bytes"),
                    ));
                }
                crate::hooks::template::compile_check(src)
                    .map_err(|e| bad(at(&format!("template.{key}")), e))?;
            }
        }
    }
    let mut routes = Vec::with_capacity(c.routes.len());
    for (i, r) in c.routes.iter().enumerate() {
        if r.targets.is_empty() {
            return Err(bad(
                at(&format!("routes[{i}].targets")),
                "at least one target is required".into(),
            ));
        }
        let mut match_re = Vec::with_capacity(r.match_re.len());
        for (label, pattern) in &r.match_re {
            let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                bad(
                    at(&format!("routes[{i}].match_re.{label}")),
                    format!("not a regular expression: {e}"),
                )
            })?;
            match_re.push((label.clone(), re));
        }
        // Ingress's own check, so that a route start-up accepts is one ingress accepts.
        if let Some(steps) = &r.escalation {
            crate::escalation::step_delays(steps)
                .map_err(|e| bad(at(&format!("routes[{i}].{}", e.field)), e.message))?;
        }
        routes.push(Route { match_re });
    }
    Ok(routes)
}
