//! The default mapping of a notification (or one of its alerts) to a unified message's
//! title, content, fields and link (contract §6), and the key and fingerprint that make it
//! one alert and recognise a source's retry.
//!
//! Titles follow Alertmanager's own: `[FIRING:3] DiskFull db-3` / `[RESOLVED] DiskFull db-3`
//! in English, `[告警:3] DiskFull db-3` / `[已恢复] DiskFull db-3` in Chinese. The content
//! lists each alert's `summary` and `description` (a line each, at most [`LISTED_MAX`]
//! alerts, then "… and K more"), so a message stays bounded however large the group; the
//! channel adapters shorten what is still too long for their upstream with `…`.

use notify_core::message::{AlertStatus, Bilingual, Field, Text};
use sha2::{Digest, Sha256};

use crate::hooks::model::{Alert, Labels, Notification};

/// Most alerts listed in one message's content.
pub const LISTED_MAX: usize = 10;
/// Most characters of one listed alert's line.
const LINE_MAX_CHARS: usize = 300;
/// Most label values in a title.
const TITLE_NAMES_MAX: usize = 4;
/// Most characters of a title.
const TITLE_MAX_CHARS: usize = 160;
/// Most fields (labels) on a message: what a WeLink app card shows (5 lines).
pub const FIELDS_MAX: usize = 5;
/// Most characters of a field's value.
const FIELD_VALUE_MAX_CHARS: usize = 120;
/// Longest alert key kept as it is, in bytes (so within `alert.key`'s bound in characters); a
/// longer source key is replaced by its hash.
const KEY_MAX_BYTES: usize = crate::ingress::alert::KEY_MAX_CHARS;

/// The default title, content, fields and link of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// `[FIRING:n] …` / `[RESOLVED] …`.
    pub title: Text,
    /// The alerts' summaries and descriptions.
    pub content: Text,
    /// Labels as fields.
    pub fields: Vec<Field>,
    /// The source's link.
    pub url: Option<String>,
}

/// Shortens `s` to `max` characters, ending with `…` when it had to.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `[FIRING:n] names` / `[RESOLVED] names` in both languages.
pub fn title(status: AlertStatus, firing: usize, names: &str) -> Text {
    let (zh, en) = match status {
        AlertStatus::Firing => (format!("[告警:{firing}]"), format!("[FIRING:{firing}]")),
        AlertStatus::Resolved => ("[已恢复]".to_string(), "[RESOLVED]".to_string()),
    };
    let with = |tag: String| {
        if names.is_empty() {
            tag
        } else {
            shorten(&format!("{tag} {names}"), TITLE_MAX_CHARS)
        }
    };
    Text::Bilingual(Bilingual {
        zh: Some(with(zh)),
        en: Some(with(en)),
    })
}

/// Label values that name a group: `alertname` first, then the others in key order.
fn names_of(labels: &Labels) -> String {
    let first = labels.get("alertname").into_iter();
    let rest = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(_, v)| v);
    first
        .chain(rest)
        .filter(|v| !v.is_empty())
        .take(TITLE_NAMES_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The names of a whole group: its group labels, else the labels all its alerts share.
pub fn group_names(n: &Notification) -> String {
    if n.group_labels.values().any(|v| !v.is_empty()) {
        names_of(&n.group_labels)
    } else {
        names_of(&n.common_labels)
    }
}

/// The names of one alert: `alertname` and the values of the group's labels, else its
/// `instance`.
pub fn alert_names(n: &Notification, a: &Alert) -> String {
    let mut picked = Labels::new();
    for k in n
        .group_labels
        .keys()
        .chain(["alertname".to_string()].iter())
    {
        if let Some(v) = a.labels.get(k) {
            picked.insert(k.clone(), v.clone());
        }
    }
    if picked.len() <= 1 {
        if let Some(v) = a.labels.get("instance") {
            picked.insert("instance".into(), v.clone());
        }
    }
    names_of(&picked)
}

/// One alert's line: `summary — description`, either alone, or its labels when it has no
/// annotations; a resolved alert in a firing group says so.
fn line(a: &Alert, group: AlertStatus, zh: bool) -> String {
    let summary = a
        .annotations
        .get("summary")
        .filter(|s| !s.trim().is_empty());
    let description = a
        .annotations
        .get("description")
        .filter(|s| !s.trim().is_empty());
    let text = match (summary, description) {
        (Some(s), Some(d)) if s != d => format!("{s} — {d}"),
        (Some(s), _) => s.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => a
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mark = match (group, a.status) {
        (AlertStatus::Firing, AlertStatus::Resolved) if zh => "（已恢复）",
        (AlertStatus::Firing, AlertStatus::Resolved) => "(resolved) ",
        _ => "",
    };
    shorten(
        &format!("• {mark}{}", text.replace('\n', " ")),
        LINE_MAX_CHARS,
    )
}

/// The content listing `alerts` (plus `hidden` the source left out).
pub fn content(alerts: &[&Alert], status: AlertStatus, hidden: u64) -> Text {
    let list = |zh: bool| {
        let mut lines: Vec<String> = alerts
            .iter()
            .take(LISTED_MAX)
            .map(|a| line(a, status, zh))
            .collect();
        let more = alerts.len().saturating_sub(LISTED_MAX) as u64 + hidden;
        if more > 0 {
            lines.push(if zh {
                format!("…… 另有 {more} 条")
            } else {
                format!("… and {more} more")
            });
        }
        lines.join("\n")
    };
    Text::Bilingual(Bilingual {
        zh: Some(list(true)),
        en: Some(list(false)),
    })
}

/// Labels as fields (without `alertname`, which the title has), at most [`FIELDS_MAX`].
pub fn fields(labels: &Labels) -> Vec<Field> {
    labels
        .iter()
        .filter(|(k, v)| k.as_str() != "alertname" && !k.trim().is_empty() && !v.is_empty())
        .take(FIELDS_MAX)
        .map(|(k, v)| Field {
            key: k.clone(),
            value: shorten(v, FIELD_VALUE_MAX_CHARS),
        })
        .collect()
}

/// The whole group as one message.
pub fn map_group(n: &Notification) -> Mapped {
    let firing = n
        .alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Firing)
        .count();
    let alerts: Vec<&Alert> = n.alerts.iter().collect();
    Mapped {
        title: title(n.status, firing, &group_names(n)),
        content: content(&alerts, n.status, n.truncated),
        fields: fields(&n.common_labels),
        url: n
            .external_url
            .clone()
            .or_else(|| n.alerts.iter().find_map(|a| a.url.clone())),
    }
}

/// One alert of a group as its own message.
pub fn map_alert(n: &Notification, a: &Alert) -> Mapped {
    let firing = usize::from(a.status == AlertStatus::Firing);
    Mapped {
        title: title(a.status, firing, &alert_names(n, a)),
        content: content(&[a], a.status, 0),
        fields: fields(&a.labels),
        url: a.url.clone().or_else(|| n.external_url.clone()),
    }
}

/// `{hook}/{source key}`; a source key longer than the store should hold is replaced by its
/// hash, which is as stable.
pub fn alert_key(hook: &str, source_key: &str) -> String {
    if source_key.is_empty() {
        return hook.to_string();
    }
    let key = format!("{hook}/{source_key}");
    if key.len() <= KEY_MAX_BYTES {
        key
    } else {
        format!(
            "{hook}/sha256:{}",
            hex::encode(Sha256::digest(source_key.as_bytes()))
        )
    }
}

/// A stable hash of what makes a notification the same one again: its key, its status and
/// each alert's fingerprint, status, start and end (sorted, so order does not matter). A
/// source's retry or repeat gives the same value; any change of the alerts gives another.
pub fn fingerprint(key: &str, status: AlertStatus, alerts: &[&Alert]) -> String {
    let mut rows: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                a.fingerprint,
                a.status.as_str(),
                a.starts_at,
                a.ends_at
            )
        })
        .collect();
    rows.sort();
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0x1e]);
    h.update(status.as_str().as_bytes());
    for r in rows {
        h.update([0x1e]);
        h.update(r.as_bytes());
    }
    hex::encode(h.finalize())
}
