//! Alert sources (contract §6): `POST /v1/hooks/{name}` and its preview, over the documented
//! Alertmanager and Grafana payloads in `tests/data/hooks/` (repository root). Every test that
//! stores runs on both backends.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use common::{every_channel, Answer, TestApp, ADMIN, SENDER};
use notify_api::hooks::{HookConfig, Hooks};
use notify_api::AppState;
use notify_core::ManualClock;
use notify_testkit::{Backend, ScratchStore, T0};
use serde_json::{json, Value};

const PROM_TOKEN: &str = "prom-hook-token";
const GRAFANA_TOKEN: &str = "grafana-hook-token";

fn payload(file: &str) -> Value {
    let path = format!(
        "{}/../../tests/data/hooks/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("a JSON payload")
}

/// The hooks of these tests, as the gateway's TOML would give them.
fn hooks() -> BTreeMap<String, HookConfig> {
    let toml_text = format!(
        r#"
[prom]
format = "alertmanager"
token = "{PROM_TOKEN}"
tenant = "t1"
targets = [{{ channel = "welink", users = ["oncall"] }}]
dedup_window = "2m"
[[prom.routes]]
match = {{ team = "dba" }}
match_re = {{ severity = "critical|page" }}
targets = [{{ channel = "wecom", users = ["dba-oncall"] }}]
escalation = [{{ after = "10m", targets = [{{ channel = "xiaowei", users = ["dba-lead"] }}] }}]
[[prom.routes]]
match_re = {{ severity = "critical" }}
targets = [{{ channel = "log", users = ["critical-desk"] }}]

[grafana]
format = "grafana"
token = "{GRAFANA_TOKEN}"
tenant = "t1"
split = true
send_resolved = false
targets = [{{ channel = "welink", users = ["oncall"] }}]

[generic]
format = "generic"
token = "generic-token"
tenant = "t1"
title = "/alert/name"
content = "/alert/text"
key = "/alert/id"
status = "/alert/state"
url = "/alert/link"
targets = [{{ channel = "log", users = ["ops"] }}]

[templated]
format = "alertmanager"
token = "templated-token"
tenant = "t1"
targets = [{{ channel = "log", users = ["ops"] }}]
template = {{ title = "{{{{ commonLabels.alertname }}}} on {{{{ commonLabels.instance }}}}", content = "{{{{ alerts|length }}}} alert(s), first: {{{{ alerts[0].annotations.summary }}}}" }}

[people]
format = "alertmanager"
token = "people-token"
tenant = "t1"
targets = [{{ channel = "welink", people = ["zhangsan"] }}]

[broken]
format = "alertmanager"
token = "broken-token"
tenant = "t1"
targets = [{{ channel = "log", users = ["ops"] }}]
template = {{ title = "{{{{ commonLabels.alertname|no_such_filter }}}}" }}
"#
    );
    toml::from_str(&toml_text).expect("hook tables")
}

async fn with_hooks<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    let config = notify_api::ApiConfig {
        hooks: hooks(),
        max_body_bytes: 64 * 1024,
        ..common::config()
    };
    let state = AppState::new(store.clone(), every_channel(), config, None);
    let app = TestApp {
        router: notify_api::router(state),
        store,
        clock,
    };
    scratch.run(body(app)).await;
}

fn hook_req(path: &str, auth: Option<&str>, body: &[u8]) -> Request<Body> {
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json");
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(Body::from(body.to_vec())).unwrap()
}

async fn post_hook(app: &TestApp, name: &str, token: &str, body: &Value) -> Answer {
    app.call(hook_req(
        &format!("/v1/hooks/{name}"),
        Some(&format!("Bearer {token}")),
        body.to_string().as_bytes(),
    ))
    .await
}

/// Every stored message, newest first, as the admin sees them.
async fn stored(app: &TestApp) -> Vec<Value> {
    let a = app
        .bearer(ADMIN, "GET", "/v1/messages?limit=500", b"")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["messages"].as_array().cloned().unwrap_or_default()
}

/// The channels of a stored message's deliveries.
async fn channels_of(app: &TestApp, id: &str) -> Vec<String> {
    let a = app
        .bearer(ADMIN, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["channel"].as_str().unwrap().to_string())
        .collect()
}

async fn auth_none_wrong_bearer_and_basic(app: TestApp) {
    let body = payload("alertmanager-v4.json").to_string();
    let none = app
        .call(hook_req("/v1/hooks/prom", None, body.as_bytes()))
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{}", none.text);
    let wrong = app
        .call(hook_req(
            "/v1/hooks/prom",
            Some("Bearer nope"),
            body.as_bytes(),
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Another hook's token, or an API client's secret, is not this hook's token.
    let other = app
        .call(hook_req(
            "/v1/hooks/prom",
            Some(&format!("Bearer {GRAFANA_TOKEN}")),
            body.as_bytes(),
        ))
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    let client = app
        .call(hook_req(
            "/v1/hooks/prom",
            Some(&format!("Bearer {}", SENDER.1)),
            body.as_bytes(),
        ))
        .await;
    assert_eq!(client.status, StatusCode::UNAUTHORIZED);
    assert!(
        stored(&app).await.is_empty(),
        "a refused request stores nothing"
    );

    let unknown = post_hook(&app, "nosuch", PROM_TOKEN, &payload("alertmanager-v4.json")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let bearer = app
        .call(hook_req(
            "/v1/hooks/prom",
            Some(&format!("Bearer {PROM_TOKEN}")),
            body.as_bytes(),
        ))
        .await;
    assert_eq!(bearer.status, StatusCode::OK, "{}", bearer.text);
    assert_eq!(bearer.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(bearer.body["messages"][0]["status"], "accepted");
    // Basic auth: Alertmanager's http_config.basic_auth; the user name is not checked.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("alertmanager:{PROM_TOKEN}"));
    let mut resolved = payload("alertmanager-v4.json");
    resolved["status"] = json!("resolved");
    resolved["alerts"][0]["status"] = json!("resolved");
    resolved["alerts"][0]["endsAt"] = json!("2023-02-06T13:20:45.828Z");
    let basic = app
        .call(hook_req(
            "/v1/hooks/prom",
            Some(&format!("Basic {basic}")),
            resolved.to_string().as_bytes(),
        ))
        .await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.text);
    assert_eq!(stored(&app).await.len(), 2);
}

async fn malformed_payloads_store_nothing(app: TestApp) {
    let bad_json = app
        .call(hook_req(
            "/v1/hooks/prom",
            Some(&format!("Bearer {PROM_TOKEN}")),
            b"{\"status\": ",
        ))
        .await;
    assert_eq!(
        bad_json.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_json.text
    );
    assert_eq!(bad_json.code(), "malformed_json");
    let not_object = post_hook(&app, "prom", PROM_TOKEN, &json!([1, 2])).await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_alerts = post_hook(&app, "prom", PROM_TOKEN, &json!({"status": "firing"})).await;
    assert_eq!(
        no_alerts.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_alerts.text
    );
    let mut wrong_label = payload("alertmanager-v4.json");
    wrong_label["alerts"][0]["labels"]["severity"] = json!(3);
    let wrong = post_hook(&app, "prom", PROM_TOKEN, &wrong_label).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.field(), "alerts[0].labels.severity", "{}", wrong.text);
    // Over max_body_bytes (64 KiB here): 413, like every route.
    let mut huge = payload("alertmanager-v4.json");
    huge["commonAnnotations"]["description"] = json!("x".repeat(70 * 1024));
    let big = post_hook(&app, "prom", PROM_TOKEN, &huge).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.text);
    assert!(stored(&app).await.is_empty());
}

/// A group whose common labels are `labels`.
/// The documented payload as another alert group: its own labels, group key and fingerprint
/// (one group key would make every call one alert, and a repeat of it a replay).
fn group_with(labels: Value) -> Value {
    let mut p = payload("alertmanager-v4.json");
    let id = labels.to_string();
    p["groupKey"] = json!(format!("{{}}:{id}"));
    p["commonLabels"] = labels.clone();
    p["alerts"][0]["labels"] = labels;
    p["alerts"][0]["fingerprint"] = json!(format!("{:x}", fnv1a(&id)));
    p
}

/// A stable number from a text, for distinct fingerprints.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

async fn routes_match_in_order_with_default_targets(app: TestApp) {
    // team=dba and severity=critical: the first route (wecom), with its escalation.
    let dba = post_hook(
        &app,
        "prom",
        PROM_TOKEN,
        &group_with(json!({"alertname": "DiskFull", "team": "dba", "severity": "critical"})),
    )
    .await;
    assert_eq!(dba.status, StatusCode::OK, "{}", dba.text);
    let id = dba.body["messages"][0]["id"].as_str().unwrap().to_string();
    // Its own target, then the route's escalation step (a delivery of the same message).
    assert_eq!(channels_of(&app, &id).await, ["wecom", "xiaowei"]);
    // severity=page matches the first route's regex but not the second's.
    let page = post_hook(
        &app,
        "prom",
        PROM_TOKEN,
        &group_with(json!({"alertname": "DiskFull", "team": "dba", "severity": "page"})),
    )
    .await;
    let id = page.body["messages"][0]["id"].as_str().unwrap().to_string();
    // Its own target, then the route's escalation step (a delivery of the same message).
    assert_eq!(channels_of(&app, &id).await, ["wecom", "xiaowei"]);
    // Another team, critical: the second route. The regex is anchored: "critical2" is not.
    let web = post_hook(
        &app,
        "prom",
        PROM_TOKEN,
        &group_with(json!({"alertname": "Down", "team": "web", "severity": "critical"})),
    )
    .await;
    let id = web.body["messages"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(channels_of(&app, &id).await, ["log"]);
    let none = post_hook(
        &app,
        "prom",
        PROM_TOKEN,
        &group_with(json!({"alertname": "Down", "team": "web", "severity": "critical2"})),
    )
    .await;
    let id = none.body["messages"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        channels_of(&app, &id).await,
        ["welink"],
        "no route: the hook's targets"
    );
}

async fn split_sends_one_message_per_alert_and_drops_resolved(app: TestApp) {
    let mut p = payload("grafana-unified.json");
    let two = post_hook(&app, "grafana", GRAFANA_TOKEN, &p).await;
    assert_eq!(two.status, StatusCode::OK, "{}", two.text);
    assert_eq!(two.body["messages"].as_array().unwrap().len(), 2);
    // One alert resolved: send_resolved = false drops it; the firing one is the same
    // notification of that alert again inside its window, so a replay: nothing new stored.
    p["alerts"][1]["status"] = json!("resolved");
    let one = post_hook(&app, "grafana", GRAFANA_TOKEN, &p).await;
    assert_eq!(
        one.body["messages"].as_array().unwrap().len(),
        1,
        "{}",
        one.text
    );
    assert_eq!(
        one.body["messages"][0]["status"], "replayed",
        "{}",
        one.text
    );
    assert_eq!(
        one.body["messages"][0]["id"], two.body["messages"][0]["id"],
        "the earlier message: {}",
        one.text
    );
    // All resolved: 200 with nothing stored.
    p["status"] = json!("resolved");
    p["alerts"][0]["status"] = json!("resolved");
    let none = post_hook(&app, "grafana", GRAFANA_TOKEN, &p).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body["messages"], json!([]));
    assert_eq!(stored(&app).await.len(), 2);
}

async fn generic_payloads_map_with_pointers(app: TestApp) {
    let body = json!({"alert": {"id": "db-3/disk", "name": "Disk full on db-3", "text": "97% used", "state": "alerting", "link": "https://example.com/db-3"}});
    let a = post_hook(&app, "generic", "generic-token", &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let msgs = stored(&app).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["title"], "Disk full on db-3");
    assert_eq!(msgs[0]["tenant"], "t1");
}

async fn preview_answers_bodies_and_stores_nothing(app: TestApp) {
    let body = payload("alertmanager-v4.json").to_string();
    // Admin only, like every admin route.
    let sender = app
        .bearer(SENDER, "POST", "/v1/hooks/prom/preview", body.as_bytes())
        .await;
    assert_eq!(sender.status, StatusCode::FORBIDDEN);
    let token = app
        .call(hook_req(
            "/v1/hooks/prom/preview",
            Some(&format!("Bearer {PROM_TOKEN}")),
            body.as_bytes(),
        ))
        .await;
    assert_eq!(
        token.status,
        StatusCode::UNAUTHORIZED,
        "a hook token is no admin"
    );
    let a = app
        .signed(ADMIN, "POST", "/v1/hooks/prom/preview", body.as_bytes())
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let m = &a.body["messages"][0];
    assert_eq!(m["message"]["title"]["en"], "[FIRING:1] ProbeFailure");
    assert_eq!(m["message"]["title"]["zh"], "[告警:1] ProbeFailure");
    assert_eq!(
        m["message"]["state"],
        json!({"zh": "告警中", "en": "firing"})
    );
    assert_eq!(m["message"]["state_color"], "orange");
    assert_eq!(
        m["message"]["alert"]["key"],
        "prom/{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}"
    );
    assert_eq!(m["message"]["alert"]["dedup_window"], "2m");
    assert_eq!(m["alert_fingerprint"].as_str().unwrap().len(), 64);
    // severity=critical, no team: the second route (log).
    assert_eq!(m["targets"][0]["channel"], "log");
    assert!(
        m["targets"][0]["parts"][0]["body"].is_object(),
        "{}",
        a.text
    );
    let templated = app
        .signed(
            ADMIN,
            "POST",
            "/v1/hooks/templated/preview",
            body.as_bytes(),
        )
        .await;
    let t = &templated.body["messages"][0];
    assert_eq!(
        t["message"]["title"],
        "ProbeFailure on https://server.example.org"
    );
    assert_eq!(
        t["message"]["content"],
        "1 alert(s), first: BlackBox Probe Failure: https://server.example.org"
    );
    assert!(t["template_error"].is_null());
    let broken = app
        .signed(ADMIN, "POST", "/v1/hooks/broken/preview", body.as_bytes())
        .await;
    let b = &broken.body["messages"][0];
    assert_eq!(
        b["message"]["title"]["en"], "[FIRING:1] ProbeFailure",
        "default mapping"
    );
    assert!(
        b["template_error"]
            .as_str()
            .unwrap()
            .contains("no_such_filter"),
        "{}",
        broken.text
    );
    // The first route's escalation rides on its messages; WeLink targets get the plain card.
    let dba = group_with(json!({"alertname": "DiskFull", "team": "dba", "severity": "critical"}));
    let a = app
        .signed(
            ADMIN,
            "POST",
            "/v1/hooks/prom/preview",
            dba.to_string().as_bytes(),
        )
        .await;
    let m = &a.body["messages"][0]["message"];
    assert_eq!(m["targets"][0]["channel"], "wecom", "{}", a.text);
    assert_eq!(m["escalation"][0]["after"], "10m");
    assert_eq!(m["escalation"][0]["targets"][0]["channel"], "xiaowei");
    let mut other = group_with(json!({"alertname": "DiskFull", "team": "web", "severity": "info"}));
    other["externalURL"] = json!("");
    let a = app
        .signed(
            ADMIN,
            "POST",
            "/v1/hooks/prom/preview",
            other.to_string().as_bytes(),
        )
        .await;
    let t = &a.body["messages"][0]["targets"][0];
    assert_eq!(t["channel"], "welink", "{}", a.text);
    assert_eq!(t["type"], "card");
    let card = &t["parts"][0]["body"];
    assert_eq!(card["statusColor"], "3", "{card}");
    assert!(
        card["msgContent"]
            .as_str()
            .unwrap()
            .contains("BlackBox Probe Failure"),
        "{card}"
    );
    let unknown = app
        .signed(ADMIN, "POST", "/v1/hooks/nosuch/preview", body.as_bytes())
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(stored(&app).await.is_empty(), "a preview stores nothing");
}

async fn a_failing_template_still_delivers(app: TestApp) {
    let a = post_hook(
        &app,
        "broken",
        "broken-token",
        &payload("alertmanager-v4.json"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let msgs = stored(&app).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["title"], "[告警:1] ProbeFailure");
}

async fn a_closed_store_is_503_so_the_source_retries(app: TestApp) {
    app.store.close().await;
    // One message (group commit) and several (one transaction): both 503, Retry-After.
    let one = post_hook(&app, "prom", PROM_TOKEN, &payload("alertmanager-v4.json")).await;
    assert_eq!(one.status, StatusCode::SERVICE_UNAVAILABLE, "{}", one.text);
    assert_eq!(one.code(), "unavailable");
    assert_eq!(one.headers["retry-after"], "1");
    let split = post_hook(
        &app,
        "grafana",
        GRAFANA_TOKEN,
        &payload("grafana-unified.json"),
    )
    .await;
    assert_eq!(
        split.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        split.text
    );
    // Reading the directory for a hook whose targets name people is a store read too.
    let people = post_hook(
        &app,
        "people",
        "people-token",
        &payload("alertmanager-v4.json"),
    )
    .await;
    assert_eq!(
        people.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        people.text
    );
    assert_eq!(people.headers["retry-after"], "1");
}

notify_testkit::on_both_backends!(crate::with_hooks, 2;
    a_closed_store_is_503_so_the_source_retries,
    auth_none_wrong_bearer_and_basic,
    malformed_payloads_store_nothing,
    routes_match_in_order_with_default_targets,
    split_sends_one_message_per_alert_and_drops_resolved,
    generic_payloads_map_with_pointers,
    preview_answers_bodies_and_stores_nothing,
    a_resolves_preview_shows_the_state_update_ingress_stores,
    a_failing_template_still_delivers
);

/// The example payload with `severity` off the routes' matches: it goes to the hook's own
/// WeLink target, as a card with a state.
fn to_welink(status: &str) -> Value {
    let mut p = payload("alertmanager-v4.json");
    p["status"] = json!(status);
    p["alerts"][0]["status"] = json!(status);
    p["alerts"][0]["labels"]["severity"] = json!("info");
    p["commonLabels"]["severity"] = json!("info");
    p
}

async fn a_resolves_preview_shows_the_state_update_ingress_stores(app: TestApp) {
    let view = |id: &str| {
        let path = format!("/v1/messages/{id}");
        let app = &app;
        async move { app.bearer(ADMIN, "GET", &path, b"").await.body }
    };
    let firing = post_hook(&app, "prom", PROM_TOKEN, &to_welink("firing")).await;
    assert_eq!(firing.status, StatusCode::OK, "{}", firing.text);
    let lead = firing.body["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    common::send_everything(&app, "welink").await;
    let card = view(&lead).await["deliveries"][0]["id"].clone();

    let resolved = to_welink("resolved").to_string();
    let p = app
        .signed(ADMIN, "POST", "/v1/hooks/prom/preview", resolved.as_bytes())
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let m = &p.body["messages"][0];
    assert_eq!(m["targets"][0]["type"], "state_update", "{}", p.text);
    assert_eq!(m["targets"][0]["parts"], json!([]));
    assert_eq!(m["state_updates"][0]["delivery_id"], card, "{}", p.text);
    assert_eq!(m["state_updates"][0]["parts"][0]["op"], "state");
    assert_eq!(m["message"]["alert"]["status"], "resolved");

    // Ingress stores what the preview showed.
    let r = post_hook(&app, "prom", PROM_TOKEN, &to_welink("resolved")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stored = view(r.body["messages"][0]["id"].as_str().unwrap()).await;
    assert_eq!(stored["deliveries"][0]["type"], "state_update", "{stored}");
    let lead = view(&lead).await;
    let ops: Vec<&Value> = lead["deliveries"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["op"])
        .collect();
    assert!(ops.contains(&&json!("state")), "{lead}");
}

// ---- The mapping, without a store ----

fn hook(name: &str) -> notify_api::hooks::Hook {
    Hooks::new(&hooks()).unwrap().get(name).unwrap().clone()
}

fn drafts(name: &str, p: &Value) -> Vec<notify_api::hooks::Draft> {
    hook(name).drafts(p.to_string().as_bytes()).unwrap()
}

fn en(t: &Option<notify_core::message::Text>) -> String {
    t.as_ref().unwrap().en().to_string()
}

fn zh(t: &Option<notify_core::message::Text>) -> String {
    t.as_ref().unwrap().zh().to_string()
}

#[test]
fn alertmanager_example_maps_title_content_fields_and_link() {
    let d = drafts("prom", &payload("alertmanager-v4.json"));
    assert_eq!(d.len(), 1);
    let m = &d[0].input;
    assert_eq!(en(&m.title), "[FIRING:1] ProbeFailure");
    assert_eq!(
        en(&m.content),
        "• BlackBox Probe Failure: https://server.example.org — Instance https://server.example.org has been down for over 5m. Job: http_checks"
    );
    let fields: Vec<(&str, &str)> = m
        .fields
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| (f.key.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("instance", "https://server.example.org"),
            ("job", "http_checks"),
            ("monitor", "master"),
            ("severity", "critical")
        ]
    );
    assert_eq!(m.url.as_deref(), Some("http://prometheus.example.org:9093"));
    assert_eq!(m.alert.as_ref().unwrap().status.as_str(), "firing");
}

#[test]
fn resolved_notifications_say_so_in_both_languages() {
    let mut p = payload("alertmanager-v4.json");
    p["status"] = json!("resolved");
    p["alerts"][0]["status"] = json!("resolved");
    let d = drafts("prom", &p);
    let m = &d[0].input;
    assert_eq!(en(&m.title), "[RESOLVED] ProbeFailure");
    assert_eq!(zh(&m.title), "[已恢复] ProbeFailure");
    assert_eq!(m.alert.as_ref().unwrap().status.as_str(), "resolved");
    assert_eq!(m.state.as_ref().unwrap().en.as_deref(), Some("resolved"));
}

#[test]
fn grafana_example_maps_each_alert_with_its_rule_link() {
    let d = drafts("grafana", &payload("grafana-unified.json"));
    assert_eq!(d.len(), 2);
    let first = &d[0].input;
    assert_eq!(en(&first.title), "[FIRING:1] High memory usage");
    assert_eq!(zh(&first.title), "[告警:1] High memory usage");
    assert_eq!(
        first.url.as_deref(),
        Some("https://play.grafana.org/alerting/1afz29v7z/edit")
    );
    assert_eq!(
        first.alert.as_ref().unwrap().key,
        "grafana/c6eadffa33fcdf37"
    );
    assert_eq!(
        d[1].input.alert.as_ref().unwrap().key,
        "grafana/bc97ff14869b13e3"
    );
    // The whole group, unsplit: the group has no group labels, so the common ones name it.
    let mut cfg = hooks();
    cfg.get_mut("grafana").unwrap().split = false;
    let whole = Hooks::new(&cfg)
        .unwrap()
        .get("grafana")
        .unwrap()
        .drafts(payload("grafana-unified.json").to_string().as_bytes())
        .unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(en(&whole[0].input.title), "[FIRING:2] blue");
    assert_eq!(whole[0].input.alert.as_ref().unwrap().key, "grafana/{}:{}");
    assert_eq!(
        en(&whole[0].input.content),
        "• This alert was triggered for zone us-1 — The system has high memory usage\n• This alert was triggered for zone eu-1 — The system has high CPU usage"
    );
}

#[test]
fn the_fingerprint_is_stable_for_a_retry_and_changes_with_the_alerts() {
    let p = payload("grafana-unified.json");
    let mut cfg = hooks();
    cfg.get_mut("grafana").unwrap().split = false;
    cfg.get_mut("grafana").unwrap().send_resolved = true;
    let h = Hooks::new(&cfg).unwrap();
    let fp = |p: &Value| {
        h.get("grafana")
            .unwrap()
            .drafts(p.to_string().as_bytes())
            .unwrap()[0]
            .extras
            .alert_fingerprint
            .clone()
            .unwrap()
    };
    let mut reordered = p.clone();
    reordered["alerts"].as_array_mut().unwrap().reverse();
    assert_eq!(fp(&p), fp(&reordered), "order does not matter");
    let mut later = p.clone();
    later["alerts"][0]["startsAt"] = json!("2021-10-12T10:51:03Z");
    assert_ne!(fp(&p), fp(&later));
    let mut resolved = p.clone();
    resolved["status"] = json!("resolved");
    assert_ne!(fp(&p), fp(&resolved));
}

#[test]
fn empty_annotations_and_non_ascii_labels_still_make_a_message() {
    let mut p = payload("alertmanager-v4.json");
    let labels = json!({"alertname": "磁盘已满", "instance": "数据库-3", "机房": "华东一区"});
    p["alerts"][0]["labels"] = labels.clone();
    p["alerts"][0]["annotations"] = json!({});
    p["commonLabels"] = labels;
    p["commonAnnotations"] = json!({});
    p["groupLabels"] = json!({"alertname": "磁盘已满"});
    let d = drafts("prom", &p);
    let m = &d[0].input;
    assert_eq!(zh(&m.title), "[告警:1] 磁盘已满");
    assert_eq!(
        en(&m.content),
        "• alertname=磁盘已满 instance=数据库-3 机房=华东一区"
    );
    assert!(m
        .fields
        .as_ref()
        .unwrap()
        .iter()
        .any(|f| f.key == "机房" && f.value == "华东一区"));
}

#[test]
fn long_groups_are_listed_bounded_with_the_rest_counted() {
    let mut p = payload("alertmanager-v4.json");
    let one = p["alerts"][0].clone();
    let alerts: Vec<Value> = (0..250)
        .map(|i| {
            let mut a = one.clone();
            a["fingerprint"] = json!(format!("fp{i}"));
            a["labels"]["instance"] = json!(format!("db-{i}"));
            a["annotations"]["summary"] = json!(format!("disk {i} {}", "x".repeat(1000)));
            a
        })
        .collect();
    p["alerts"] = json!(alerts);
    p["truncatedAlerts"] = json!(5);
    let d = drafts("prom", &p);
    let m = &d[0].input;
    assert_eq!(en(&m.title), "[FIRING:250] ProbeFailure");
    let content = en(&m.content);
    assert_eq!(
        content.lines().count(),
        11,
        "10 alerts and the rest counted"
    );
    assert!(content.ends_with("… and 245 more"), "{content}");
    assert!(zh(&m.content).ends_with("…… 另有 245 条"));
    assert!(content.chars().count() < 4_000);
    assert!(
        content.lines().next().unwrap().ends_with('…'),
        "long lines are shortened"
    );
}

#[test]
fn a_bad_hook_table_is_refused_by_key() {
    let table = |extra: &str| -> Result<Hooks, String> {
        let text = format!(
            "[h]\nformat = \"alertmanager\"\ntoken = \"t\"\ntargets = [{{ channel = \"log\" }}]\n{extra}"
        );
        let cfg: BTreeMap<String, HookConfig> = toml::from_str(&text).map_err(|e| e.to_string())?;
        Hooks::new(&cfg).map_err(|e| e.to_string())
    };
    assert!(table("").is_ok());
    let e =
        table("[[h.routes]]\nmatch_re = { severity = \"(\" }\ntargets = [{ channel = \"log\" }]\n")
            .err()
            .unwrap();
    assert!(e.starts_with("hooks.h.routes[0].match_re.severity:"), "{e}");
    let e = table("dedup_window = \"soon\"\n").err().unwrap();
    assert!(e.starts_with("hooks.h.dedup_window:"), "{e}");
    let e = table("template = { title = \"{{ oops\" }\n").err().unwrap();
    assert!(e.starts_with("hooks.h.template.title:"), "{e}");
    let e = table("title = \"/a\"\n").err().unwrap();
    assert!(e.starts_with("hooks.h.title:"), "{e}");
    // A route's escalation passes exactly the checks a message's escalation passes at ingress.
    let escalation = |steps: &str| {
        table(&format!(
            "[[h.routes]]\ntargets = [{{ channel = \"log\" }}]\nescalation = [{steps}]\n"
        ))
        .err()
        .unwrap_or_default()
    };
    let step =
        |after: &str| format!("{{ after = \"{after}\", targets = [{{ channel = \"log\" }}] }}");
    assert_eq!(escalation(&step("5m")), "");
    for (steps, key) in [
        (String::new(), "hooks.h.routes[0].escalation:"),
        (
            vec![step("1m"); 11].join(", "),
            "hooks.h.routes[0].escalation:",
        ),
        (step("0s"), "hooks.h.routes[0].escalation[0].after:"),
        (step("500ms"), "hooks.h.routes[0].escalation[0].after:"),
        (step("8d"), "hooks.h.routes[0].escalation[0].after:"),
        (
            format!("{}, {{ after = \"9m\", targets = [] }}", step("1m")),
            "hooks.h.routes[0].escalation[1].targets:",
        ),
    ] {
        let e = escalation(&steps);
        assert!(e.starts_with(key), "{steps}: {e}");
    }
    let text = "[h]\nformat = \"alertmanager\"\ntoken = \"\"\ntargets = [{ channel = \"log\" }]\n";
    let cfg: BTreeMap<String, HookConfig> = toml::from_str(text).unwrap();
    assert!(Hooks::new(&cfg)
        .unwrap_err()
        .to_string()
        .starts_with("hooks.h.token:"));
}

#[test]
fn generic_status_ok_or_resolved_is_resolved_and_a_missing_title_falls_back() {
    let d = drafts(
        "generic",
        &json!({"alert": {"id": 42, "text": "all good again", "state": "OK"}}),
    );
    let m = &d[0].input;
    let alert = m.alert.as_ref().unwrap();
    assert_eq!(alert.status.as_str(), "resolved");
    assert_eq!(alert.key, "generic/42", "a number is written out");
    assert_eq!(en(&m.title), "all good again", "no title: the content");
    assert!(m.url.is_none());
    let firing = drafts("generic", &json!({"alert": {"name": "x", "state": "down"}}));
    let alert = firing[0].input.alert.as_ref().unwrap();
    assert_eq!(alert.status.as_str(), "firing");
    assert_eq!(
        alert.key, "generic",
        "no key pointer value: the hook's name"
    );
}

#[test]
fn generic_keys_stay_within_1_to_200_characters_and_long_hook_names_are_refused() {
    let key_of = |id: Value| {
        drafts("generic", &json!({"alert": {"id": id, "name": "x"}}))[0]
            .input
            .alert
            .clone()
            .unwrap()
            .key
    };
    assert_eq!(
        key_of(json!("")),
        "generic",
        "an empty key: the hook's name"
    );
    assert_eq!(
        key_of(json!("k".repeat(192))),
        format!("generic/{}", "k".repeat(192))
    );
    // Longer than alert.key takes: its hash, as stable.
    let long = key_of(json!("k".repeat(201)));
    assert!(long.starts_with("generic/sha256:"), "{long}");
    assert!(long.chars().count() <= 200);
    // A name too long to begin a key stops start-up instead of refusing every alert.
    let name = "h".repeat(201);
    let text = format!(
        "[{name}]\nformat = \"alertmanager\"\ntoken = \"t\"\ntargets = [{{ channel = \"log\" }}]\n"
    );
    let cfg: BTreeMap<String, HookConfig> = toml::from_str(&text).unwrap();
    let e = Hooks::new(&cfg).unwrap_err().to_string();
    assert!(e.starts_with(&format!("hooks.{name}:")), "{e}");
}
