//! Grafana unified alerting's webhook contact point: Alertmanager's shape plus `orgId`,
//! `title`, `state`, `message` and per alert `silenceURL`, `dashboardURL`, `panelURL` and
//! `values`. An alert's link is its panel when it has one, else its rule (`generatorURL`,
//! `ruleURL` in older versions).

use crate::hooks::alertmanager::{notification, read};
use crate::hooks::model::Notification;
use crate::hooks::HookError;

/// A Grafana notification.
pub fn parse(value: &serde_json::Value) -> Result<Notification, HookError> {
    let p = read(value)?;
    Ok(notification(p, |a| {
        [&a.panel_url, &a.generator_url, &a.rule_url]
            .into_iter()
            .flatten()
            .find(|u| !u.is_empty())
            .cloned()
    }))
}
