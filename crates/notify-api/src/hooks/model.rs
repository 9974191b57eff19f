//! One notification of an alert source as the mapping reads it, whatever its format: the
//! Alertmanager and Grafana parsers ([`super::alertmanager`], [`super::grafana`]) fill it in.

use std::collections::BTreeMap;

use notify_core::message::AlertStatus;

/// Label or annotation names and values.
pub type Labels = BTreeMap<String, String>;

/// One notification: a group of alerts that share a group key.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The group's status (firing while any alert fires).
    pub status: AlertStatus,
    /// The source's group key (`groupKey`).
    pub group_key: String,
    /// The labels the group is made of.
    pub group_labels: Labels,
    /// Labels every alert has.
    pub common_labels: Labels,
    /// Annotations every alert has.
    pub common_annotations: Labels,
    /// The source's own page (`externalURL`).
    pub external_url: Option<String>,
    /// The alerts.
    pub alerts: Vec<Alert>,
    /// Alerts the source left out (`truncatedAlerts`).
    pub truncated: u64,
}

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Its labels.
    pub labels: Labels,
    /// Its annotations (`summary`, `description`, …).
    pub annotations: Labels,
    /// `startsAt` as sent.
    pub starts_at: String,
    /// `endsAt` as sent.
    pub ends_at: String,
    /// The source's fingerprint, or one made from the labels when it sends none.
    pub fingerprint: String,
    /// The alert's own link (Alertmanager `generatorURL`; Grafana `panelURL`, else the rule's).
    pub url: Option<String>,
}

/// `firing` / `resolved` as sources spell them; anything else is firing, so that an unknown
/// word never hides an alert.
pub fn status_of(word: &str) -> AlertStatus {
    if word.eq_ignore_ascii_case("resolved") || word.eq_ignore_ascii_case("ok") {
        AlertStatus::Resolved
    } else {
        AlertStatus::Firing
    }
}

/// A fingerprint from the labels, for sources that send none (stable across calls).
pub fn labels_fingerprint(labels: &Labels) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0xff]);
        h.update(v.as_bytes());
        h.update([0xfe]);
    }
    hex::encode(&h.finalize()[..8])
}
