//! Shared fixtures: channels pointed at a test host, messages, calls and answers.

use std::path::PathBuf;

use notify_channels::{build_channel, ChannelConfig, ChannelHandle, PartCall, UpstreamAnswer};
use notify_core::validate::{check, ValidationLimits};
use notify_core::{ChannelKind, MessageInput, PartPlan, Plan, Secret};
use serde_json::Value;

/// 2026-11-23T10:00:00+08:00.
pub const NOW: i64 = 1_795_399_200_000;

pub fn config(kind: ChannelKind) -> ChannelConfig {
    let mut c = ChannelConfig::of_kind(kind);
    match kind {
        ChannelKind::Welink | ChannelKind::Xiaowei => {
            c.base_url = Some("http://upstream.test/api".into());
            c.client_id = Some("20190828163922073733756".into());
            c.client_secret = Some(Secret::new("welink-secret"));
            c.owner = Some("Notifications".into());
        }
        ChannelKind::WecomWorkid => {
            c.base_url = Some("http://upstream.test".into());
            c.token_url = Some("http://upstream.test/oauth/token".into());
            c.client_id = Some("workid-client".into());
            c.client_secret = Some(Secret::new("workid-secret"));
        }
        ChannelKind::WecomApp => {
            c.base_url = Some("http://upstream.test".into());
            c.corp_id = Some("ww5ecc1acd5dce6e9d".into());
            c.corp_secret = Some(Secret::new("wecom-secret"));
            c.agent_id = Some(1000002);
        }
        ChannelKind::Juzi => {
            c.base_url = Some("http://upstream.test".into());
        }
        ChannelKind::Log => {}
    }
    c
}

pub fn channel(kind: ChannelKind) -> ChannelHandle {
    build_channel(kind.as_str(), &config(kind)).expect("valid test config")
}

/// A message from JSON, checked as ingress checks it.
pub fn message(v: Value) -> notify_core::CheckedMessage {
    let input = MessageInput::from_json(v.to_string().as_bytes()).expect("message JSON");
    check(input, NOW, &ValidationLimits::default(), |_| true).expect("valid message")
}

/// Plans the message's first target on `ch`.
pub fn plan_on(ch: &ChannelHandle, v: Value) -> Result<Plan, notify_core::FieldError> {
    let m = message(v);
    let t = m.input.targets[0].clone();
    ch.adapter.plan(&m, &t, NOW)
}

pub fn plan(kind: ChannelKind, v: Value) -> Plan {
    plan_on(&channel(kind), v).expect("plan")
}

pub fn plan_err(kind: ChannelKind, v: Value) -> notify_core::FieldError {
    plan_on(&channel(kind), v).expect_err("a refusal")
}

pub fn answer(status: u16, v: Value) -> UpstreamAnswer {
    UpstreamAnswer {
        http_status: status,
        body: v.to_string().into_bytes(),
    }
}

pub const EMPTY: Value = Value::Null;

/// The call of a planned part.
pub fn call<'a>(part: &'a PartPlan, token: Option<&'a str>) -> PartCall<'a> {
    PartCall {
        op: part.op,
        interface: &part.interface,
        body: &part.body,
        recipients: &part.recipients,
        token,
        dependency_id: None,
        media: None,
        context: &EMPTY,
        now_ms: NOW,
        attempts: 0,
    }
}

/// `n` distinct ids.
pub fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Compares `value` with `tests/golden/<kind>/<case>.json` exactly (keys sorted, pretty
/// printed); `UPDATE_GOLDEN=1` rewrites the file instead.
pub fn assert_golden(kind: &str, case: &str, value: &impl serde::Serialize) {
    let v = serde_json::to_value(value).expect("serializable");
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&sorted(&v)).expect("printable")
    );
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        kind,
        &format!("{case}.json"),
    ]
    .iter()
    .collect();
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("golden dir");
        std::fs::write(&path, &text).expect("golden written");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        want,
        text,
        "{} differs (UPDATE_GOLDEN=1 rewrites it after review)",
        path.display()
    );
}

/// A channel of `kind` built from `config`.
pub fn build_with(kind: ChannelKind, config: ChannelConfig) -> ChannelHandle {
    build_channel(kind.as_str(), &config).expect("valid test config")
}
