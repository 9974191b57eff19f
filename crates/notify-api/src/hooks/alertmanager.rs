//! Prometheus Alertmanager's webhook payload (version 4): `status`, `groupKey`, `groupLabels`,
//! `commonLabels`, `commonAnnotations`, `externalURL`, `truncatedAlerts` and `alerts[]` with
//! `status`, `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`, `fingerprint`.
//! Grafana's contact point sends the same shape with a few more fields ([`super::grafana`]).

use serde::Deserialize;

use crate::hooks::model::{labels_fingerprint, status_of, Alert, Labels, Notification};
use crate::hooks::HookError;

/// The payload as sent; unknown fields are ignored (sources add fields over versions).
#[derive(Debug, Deserialize)]
pub(crate) struct Payload {
    pub status: String,
    #[serde(default, rename = "groupKey")]
    pub group_key: Option<String>,
    #[serde(default, rename = "groupLabels")]
    pub group_labels: Labels,
    #[serde(default, rename = "commonLabels")]
    pub common_labels: Labels,
    #[serde(default, rename = "commonAnnotations")]
    pub common_annotations: Labels,
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    #[serde(default, rename = "truncatedAlerts")]
    pub truncated_alerts: Option<u64>,
    pub alerts: Vec<PayloadAlert>,
}

/// One alert as sent.
#[derive(Debug, Deserialize)]
pub(crate) struct PayloadAlert {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    #[serde(default, rename = "startsAt")]
    pub starts_at: Option<String>,
    #[serde(default, rename = "endsAt")]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Grafana.
    #[serde(default, rename = "panelURL")]
    pub panel_url: Option<String>,
    /// Grafana (older contact points).
    #[serde(default, rename = "ruleURL")]
    pub rule_url: Option<String>,
}

/// Reads a payload value into the typed shape; a wrong shape is a 422 naming the field.
pub(crate) fn read(value: &serde_json::Value) -> Result<Payload, HookError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        HookError::Payload {
            field: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

/// An Alertmanager notification.
pub fn parse(value: &serde_json::Value) -> Result<Notification, HookError> {
    let p = read(value)?;
    Ok(notification(p, |a| a.generator_url.clone()))
}

/// The unified notification, with each alert's link picked by `url_of`.
pub(crate) fn notification(
    p: Payload,
    url_of: impl Fn(&PayloadAlert) -> Option<String>,
) -> Notification {
    let alerts = p
        .alerts
        .into_iter()
        .map(|a| Alert {
            status: status_of(a.status.as_deref().unwrap_or(&p.status)),
            url: url_of(&a).filter(|u| !u.is_empty()),
            fingerprint: a
                .fingerprint
                .clone()
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| labels_fingerprint(&a.labels)),
            labels: a.labels,
            annotations: a.annotations,
            starts_at: a.starts_at.unwrap_or_default(),
            ends_at: a.ends_at.unwrap_or_default(),
        })
        .collect();
    Notification {
        status: status_of(&p.status),
        group_key: p.group_key.unwrap_or_default(),
        group_labels: p.group_labels,
        common_labels: p.common_labels,
        common_annotations: p.common_annotations,
        external_url: p.external_url.filter(|u| !u.is_empty()),
        alerts,
        truncated: p.truncated_alerts.unwrap_or(0),
    }
}
