//! The operators' alerting rules (`deploy/prometheus/alerts.yml`): `promtool check rules`
//! accepts them, their unit tests (`alerts.test.yml`, `promtool test rules`) pass and cover
//! every rule, every metric they use is one the gateway describes (and so exports), and every
//! rule carries what docs/operations.md promises: a `for`, a severity, a summary, a description
//! and a runbook link to a section that exists.
//!
//! promtool comes from the Debian package `prometheus`; these tests fail, never skip, without it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_norway::Value as Yaml;

/// Metrics the rules may use that Prometheus makes, not the gateway.
const PROMETHEUS_METRICS: &[&str] = &["up"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rules_dir() -> PathBuf {
    repo().join("deploy/prometheus")
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(rules_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed by this test and cannot be run ({e}): install the Debian \
                 package `prometheus` (apt-get install prometheus) or put promtool on PATH"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {} failed:\n{text}",
        args.join(" ")
    );
    text
}

/// The rules of alerts.yml, each as its YAML mapping.
fn rules() -> Vec<Yaml> {
    let text = std::fs::read_to_string(rules_dir().join("alerts.yml")).unwrap();
    let doc: Yaml = serde_norway::from_str(&text).unwrap();
    let groups = doc["groups"].as_sequence().expect("groups");
    assert_eq!(groups.len(), 1, "one group of rules");
    groups[0]["rules"].as_sequence().expect("rules").clone()
}

fn str_of<'a>(rule: &'a Yaml, path: &[&str]) -> &'a str {
    let mut v = rule;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_else(|| {
        panic!(
            "{}: no {}",
            rule["alert"].as_str().unwrap_or("?"),
            path.join(".")
        )
    })
}

#[test]
fn promtool_accepts_the_rules() {
    let out = promtool(&["check", "rules", "alerts.yml"]);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", rules().len())),
        "{out}"
    );
}

#[test]
fn the_rules_unit_tests_pass_and_cover_every_rule() {
    promtool(&["test", "rules", "alerts.test.yml"]);
    let text = std::fs::read_to_string(rules_dir().join("alerts.test.yml")).unwrap();
    let doc: Yaml = serde_norway::from_str(&text).unwrap();
    let tested: BTreeSet<&str> = doc["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_sequence().unwrap().iter())
        .filter_map(|a| a["alertname"].as_str())
        .collect();
    // Each rule is seen firing (a case with expected alerts) and silent (a case with none).
    for rule in rules() {
        let name = str_of(&rule, &["alert"]);
        let cases: Vec<&Yaml> = doc["tests"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|t| t["alert_rule_test"].as_sequence().unwrap().iter())
            .filter(|a| a["alertname"].as_str() == Some(name))
            .collect();
        assert!(tested.contains(name), "{name} has no unit test");
        let fires = |c: &&Yaml| c["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty());
        assert!(cases.iter().any(fires), "{name}: no case where it fires");
        assert!(
            cases.iter().any(|c| !fires(c)),
            "{name}: no case where it must not fire"
        );
    }
}

#[test]
fn every_rule_has_a_for_a_severity_and_annotations_linking_to_the_runbook() {
    let guide = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let anchors: BTreeSet<String> = guide
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| github_anchor(l.trim_start_matches('#')))
        .collect();
    for rule in rules() {
        let name = str_of(&rule, &["alert"]);
        assert!(
            name.starts_with("Notify"),
            "{name}: alert names start with Notify"
        );
        let f = str_of(&rule, &["for"]);
        assert!(f.ends_with('m') && f != "0m", "{name}: for {f}");
        let severity = str_of(&rule, &["labels", "severity"]);
        assert!(
            ["warning", "critical"].contains(&severity),
            "{name}: severity {severity}"
        );
        assert!(!str_of(&rule, &["annotations", "summary"]).is_empty());
        let description = str_of(&rule, &["annotations", "description"]);
        assert!(
            description.contains("{{ $labels.") || !str_of(&rule, &["expr"]).contains(" by ("),
            "{name}: the description names the labels the alert is raised by"
        );
        let runbook = str_of(&rule, &["annotations", "runbook_url"]);
        let anchor = runbook
            .strip_prefix("docs/operations.md#")
            .unwrap_or_else(|| {
                panic!("{name}: runbook_url {runbook} is not in docs/operations.md")
            });
        assert!(
            anchors.contains(anchor),
            "{name}: docs/operations.md has no section #{anchor}"
        );
    }
}

#[test]
fn the_rules_use_only_metrics_the_gateway_exports() {
    let described = described_metrics();
    for name in ["notify_queue_depth", "notify_replicas_live"] {
        assert!(described.contains(name), "{described:?}");
    }
    let mut used = BTreeSet::new();
    for rule in rules() {
        let expr = str_of(&rule, &["expr"]);
        used.extend(metric_names(expr));
    }
    assert!(used.len() >= 6, "{used:?}");
    for name in &used {
        if PROMETHEUS_METRICS.contains(&name.as_str()) {
            continue;
        }
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| described.contains(*b)))
            .unwrap_or(name);
        assert!(
            described.contains(base),
            "alerts.yml uses {name}, which the gateway does not export (described: {described:?})"
        );
    }
}

/// Names of the series an expression selects: identifiers that are not keywords, aggregations
/// or functions (followed by `(`), nor label names (inside `{…}` or `by (…)`), nor duration
/// units (`5m`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Keywords, and aggregations (which may be followed by `by (…)` rather than `(`).
    const WORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let (mut i, mut in_braces, mut in_grouping) = (0, false, false);
    let mut last_word = String::new();
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1;
            }
        } else if c == '{' {
            in_braces = true;
        } else if c == '}' {
            in_braces = false;
        } else if c == '(' && ["by", "without", "on", "ignoring"].contains(&last_word.as_str()) {
            in_grouping = true;
        } else if c == ')' && in_grouping {
            in_grouping = false;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            let next = expr[i..].trim_start().chars().next();
            let is_number_unit = start > 0 && bytes[start - 1].is_ascii_digit();
            if !in_braces
                && !in_grouping
                && !is_number_unit
                && next != Some('(')
                && !WORDS.contains(&word)
            {
                names.insert(word.to_string());
            }
            last_word = word.to_string();
            continue;
        }
        if !c.is_whitespace() {
            last_word.clear();
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_read_from_expressions() {
    let names = metric_names(
        "max by (lane, channel) (a_total{x=\"y\", z=~\"b|c\"}) >= 0.98 * max by (lane) (b) \
         or sum(rate(c_seconds_count[5m])) > 0 and on (lane) absent(d) or up{job=\"g\"} == 0",
    );
    let want: BTreeSet<String> = ["a_total", "b", "c_seconds_count", "d", "up"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, want);
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation but `-` and `_` dropped.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every metric name the gateway's `describe_metrics` functions describe (the gateway calls
/// both at start, so these are what `/metrics` carries `# HELP` for).
fn described_metrics() -> BTreeSet<String> {
    let recorder = Names::default();
    metrics::with_local_recorder(&recorder, || {
        notify_api::describe_metrics();
        notify_dispatch::describe_metrics();
    });
    let names = recorder.0.lock().unwrap().clone();
    names
}

/// A recorder that keeps the names described to it.
#[derive(Default)]
struct Names(Arc<Mutex<BTreeSet<String>>>);

impl Names {
    fn add(&self, key: KeyName) {
        self.0.lock().unwrap().insert(key.as_str().to_string());
    }
}

impl Recorder for Names {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.add(key);
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.add(key);
    }
    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.add(key);
    }
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
