//! Escalation steps and acknowledgement through the API, on a clock the test drives: a step is
//! sent `after` acceptance and not before, acknowledging first cancels it (twice is a no-op),
//! WeLink cards sent with a state turn `processed`, and the acknowledge link's page shows the
//! alert and acknowledges only on its form's POST.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use notify_store::{Completion, PartResult};
use serde_json::{json, Value};

const AFTER_MS: i64 = 300_000;

fn escalating(title: &str) -> Value {
    json!({
        "title": title,
        "content": "db-3 /var at 95%",
        "targets": [{"channel": "logch", "users": ["alice"]}],
        "escalation": [{"after": "5m", "targets": [{"channel": "logch", "users": ["boss"]}]}],
    })
}

/// Sends every due call as the dispatcher would; returns the deliveries that went out.
async fn send_due(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for lane in app.store.lanes().lanes().await.unwrap() {
        let claimed = app
            .store
            .outbox()
            .claim(&lane.info.lane, "w", 100, 60_000)
            .await
            .unwrap();
        let done: Vec<Completion> = claimed
            .iter()
            .map(|p| Completion {
                part_id: p.id.clone(),
                lease_token: p.lease_token.clone(),
                result: PartResult::Done {
                    upstream_id: Some(format!("up-{}", p.id)),
                    failed_recipients: vec![],
                },
                attempt: None,
            })
            .collect();
        app.store.outbox().complete(&done).await.unwrap();
        out.extend(claimed.into_iter().map(|p| p.delivery_id));
    }
    out
}

async fn get(app: &TestApp, id: &str) -> Value {
    let a = app
        .bearer(SENDER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body
}

async fn ack(app: &TestApp, key: (&str, &str), id: &str, by: &str) -> Answer {
    app.bearer(
        key,
        "POST",
        &format!("/v1/messages/{id}/ack"),
        json!({ "by": by }).to_string().as_bytes(),
    )
    .await
}

on_both_backends!(
    a_step_is_sent_after_its_delay_and_not_before,
    acknowledging_first_cancels_the_step_and_twice_is_a_no_op,
    acknowledging_follows_the_action_rules,
    escalation_is_checked_field_by_field,
    the_link_page_shows_the_alert_and_only_its_form_acknowledges,
    a_resolved_alert_never_escalates,
    acknowledging_a_message_acknowledges_its_alert,
);

fn alerting(title: &str, key: &str, status: &str) -> Value {
    let mut m = escalating(title);
    m["alert"] = json!({"key": key, "status": status});
    m
}

async fn alert_view(app: &TestApp, key: &str) -> Value {
    let a = app
        .bearer(SENDER, "GET", &format!("/v1/alerts/{key}"), b"")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body
}

async fn a_resolved_alert_never_escalates(app: TestApp) {
    let m = app
        .post(&alerting("disk full", "db-3-disk", "firing"))
        .await;
    assert_eq!(m.status, StatusCode::ACCEPTED, "{}", m.text);
    let id = m.body["id"].as_str().unwrap().to_string();
    send_due(&app).await;
    assert_eq!(
        alert_view(&app, "db-3-disk").await["pending_escalation_steps"],
        1
    );
    app.clock.advance_ms(60_000);
    let mut resolve = alerting("disk fine", "db-3-disk", "resolved");
    resolve.as_object_mut().unwrap().remove("escalation");
    let r = app.post(&resolve).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    send_due(&app).await;
    app.clock.advance_ms(AFTER_MS);
    assert!(send_due(&app).await.is_empty(), "the step never fires");
    let v = get(&app, &id).await;
    assert_eq!(
        v["deliveries"][1]["escalation"]["state"], "cancelled",
        "{v}"
    );
    assert_eq!(
        v["deliveries"][1]["escalation"]["reason"], "resolved",
        "{v}"
    );
    assert_eq!(
        alert_view(&app, "db-3-disk").await["pending_escalation_steps"],
        0
    );
}

async fn acknowledging_a_message_acknowledges_its_alert(app: TestApp) {
    let first = app
        .post(&alerting("disk full", "db-4-disk", "firing"))
        .await;
    let id = first.body["id"].as_str().unwrap().to_string();
    send_due(&app).await;
    app.clock.advance_ms(10_000);
    let a = ack(&app, SENDER, &id, "zhangsan").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let alert = alert_view(&app, "db-4-disk").await;
    assert_eq!(alert["status"], "acknowledged", "{alert}");
    assert_eq!(alert["acknowledged_by"], "zhangsan", "{alert}");
    assert_eq!(
        alert["acknowledged_at"], a.body["acknowledged_at"],
        "{alert}"
    );
    assert_eq!(alert["pending_escalation_steps"], 0, "{alert}");
    app.clock.advance_ms(AFTER_MS);
    assert!(
        send_due(&app).await.is_empty(),
        "the alert's step never fires"
    );
}

async fn a_step_is_sent_after_its_delay_and_not_before(app: TestApp) {
    let m = app.post(&escalating("disk full")).await;
    assert_eq!(m.status, StatusCode::ACCEPTED, "{}", m.text);
    let id = m.body["id"].as_str().unwrap();
    let step_id = m.body["deliveries"][1]["id"].as_str().unwrap().to_string();
    assert_eq!(m.body["deliveries"][1]["escalation_step"], 0);
    assert!(m.body["deliveries"][0].get("escalation_step").is_none());
    assert!(m.body["ack_url"]
        .as_str()
        .unwrap()
        .contains(&format!("/ack/{id}.")));
    let own = send_due(&app).await;
    assert_eq!(own.len(), 1);
    assert_ne!(own[0], step_id);
    let v = get(&app, id).await;
    assert_eq!(v["status"], "accepted", "a pending step keeps it open");
    assert_eq!(v["deliveries"][1]["status"], "queued");
    assert_eq!(v["deliveries"][1]["escalation"]["state"], "pending");
    app.clock.advance_ms(AFTER_MS - 1);
    assert!(send_due(&app).await.is_empty(), "not before `after`");
    app.clock.advance_ms(1);
    assert_eq!(send_due(&app).await, vec![step_id]);
    assert!(send_due(&app).await.is_empty(), "once");
    let v = get(&app, id).await;
    assert_eq!(v["status"], "sent");
    assert_eq!(v["deliveries"][1]["escalation"]["state"], "fired");
    assert!(v.get("acknowledged_by").is_none());
}

async fn acknowledging_first_cancels_the_step_and_twice_is_a_no_op(app: TestApp) {
    let m = app.post(&escalating("disk full")).await;
    let id = m.body["id"].as_str().unwrap();
    let step_id = m.body["deliveries"][1]["id"].as_str().unwrap();
    send_due(&app).await;
    app.clock.advance_ms(60_000);
    let a = ack(&app, SENDER, id, "zhangsan").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["acknowledged_by"], "zhangsan");
    assert_eq!(a.body["already_acknowledged"], false);
    assert_eq!(a.body["cancelled_steps"], json!([step_id]));
    let first_at = a.body["acknowledged_at"].clone();
    app.clock.advance_ms(1_000);
    let again = ack(&app, SENDER, id, "lisi").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["acknowledged_by"], "zhangsan");
    assert_eq!(again.body["acknowledged_at"], first_at);
    assert_eq!(again.body["already_acknowledged"], true);
    assert_eq!(again.body["cancelled_steps"], json!([]));
    app.clock.advance_ms(AFTER_MS);
    assert!(send_due(&app).await.is_empty(), "acknowledged: never sent");
    let v = get(&app, id).await;
    assert_eq!(v["status"], "sent");
    assert_eq!(v["acknowledged_by"], "zhangsan");
    assert_eq!(v["acknowledged_at"], first_at);
    assert_eq!(v["deliveries"][1]["status"], "cancelled");
    assert_eq!(
        v["deliveries"][1]["escalation"],
        json!({"step": 0, "due_at": v["deliveries"][1]["escalation"]["due_at"], "state": "cancelled", "reason": "acknowledged"})
    );
}

async fn acknowledging_follows_the_action_rules(app: TestApp) {
    let m = app.post(&message("no escalation")).await;
    let id = m.body["id"].as_str().unwrap();
    assert!(
        m.body.get("ack_url").is_none(),
        "only messages with escalation"
    );
    assert_eq!(
        ack(&app, OTHER, id, "x").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ack(&app, READER, id, "x").await.status,
        StatusCode::FORBIDDEN
    );
    let missing = ack(&app, SENDER, "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV", "x").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let blank = ack(&app, SENDER, id, "  ").await;
    assert_eq!(
        (blank.status, blank.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "by")
    );
    let long = ack(&app, SENDER, id, &"x".repeat(65)).await;
    assert_eq!(
        (long.status, long.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_long")
    );
    // A message without escalation can be acknowledged too.
    let a = ack(&app, SENDER, id, "zhangsan").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(get(&app, id).await["acknowledged_by"], "zhangsan");
}

async fn escalation_is_checked_field_by_field(app: TestApp) {
    let with = |escalation: Value| {
        let mut m = message("x");
        m["escalation"] = escalation;
        m
    };
    let step =
        |after: &str| json!({"after": after, "targets": [{"channel": "logch", "users": ["b"]}]});
    let cases = [
        (with(json!([])), "escalation", "bad_length"),
        (
            with(json!(vec![step("1m"); 11])),
            "escalation",
            "bad_length",
        ),
        (
            with(json!([step("5m"), step("0s")])),
            "escalation[1].after",
            "out_of_range",
        ),
        (
            with(json!([step("8d")])),
            "escalation[0].after",
            "out_of_range",
        ),
        (
            with(json!([step("soon")])),
            "escalation[0].after",
            "invalid_duration",
        ),
        (
            with(json!([{"after": "5m", "targets": []}])),
            "escalation[0].targets",
            "required",
        ),
        (
            with(
                json!([step("5m"), {"after": "10m", "targets": [{"channel": "nope", "users": ["b"]}]}]),
            ),
            "escalation[1].targets[0].channel",
            "unknown_channel",
        ),
    ];
    for (body, field, code) in cases {
        let a = app.post(&body).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            a.text
        );
        assert_eq!(a.field(), field, "{body}: {}", a.text);
        if !code.is_empty() {
            assert_eq!(a.code(), code, "{body}: {}", a.text);
        }
    }
}

fn form_req(method: &str, path: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn nonce_of(html: &str) -> String {
    let at = html.find(r#"name="nonce" value=""#).expect("a nonce field") + 20;
    html[at..].split('"').next().unwrap().to_string()
}

async fn the_link_page_shows_the_alert_and_only_its_form_acknowledges(app: TestApp) {
    let m = app.post(&escalating("disk <full>")).await;
    let id = m.body["id"].as_str().unwrap();
    let url = m.body["ack_url"].as_str().unwrap();
    let path = &url[url.find("/ack/").unwrap()..];
    let page = app.call(form_req("GET", path, "")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(page.text.contains("disk &lt;full&gt;"), "escaped title");
    assert!(page.text.contains("db-3 /var at 95%"));
    assert!(page.text.contains("Acknowledge"));
    // Opening the link (a chat client's preview, a scanner) acknowledges nothing.
    assert!(get(&app, id).await.get("acknowledged_by").is_none());
    // A forged token, or a post without the page's nonce, does not either.
    let forged = format!("{}x", &path[..path.len() - 1]);
    assert_eq!(
        app.call(form_req("GET", &forged, "")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(form_req("GET", "/ack/nonsense", "")).await.status,
        StatusCode::NOT_FOUND
    );
    let csrf = app.call(form_req("POST", path, "by=mallory&nonce=x")).await;
    assert_eq!(csrf.status, StatusCode::FORBIDDEN);
    assert!(get(&app, id).await.get("acknowledged_by").is_none());
    let nonce = nonce_of(&page.text);
    let done = app
        .call(form_req(
            "POST",
            path,
            &format!("by=%E5%BC%A0%E4%B8%89&nonce={nonce}"),
        ))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.headers["location"], path);
    let v = get(&app, id).await;
    assert_eq!(v["acknowledged_by"], "张三");
    assert_eq!(v["deliveries"][1]["escalation"]["reason"], "acknowledged");
    let after = app.call(form_req("GET", path, "")).await;
    assert!(
        after.text.contains("Acknowledged by 张三"),
        "{}",
        after.text
    );
    assert!(!after.text.contains("<form"));
    // An empty name acknowledges as `link`; here it is already acknowledged: a no-op.
    let again = app
        .call(form_req("POST", path, &format!("by=&nonce={nonce}")))
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, id).await["acknowledged_by"], "张三");
}

mod welink {
    use super::*;

    /// A WeLink card sent with a state turns `processed` (yellow) when acknowledged; a card
    /// without a state is left alone.
    async fn acknowledging_updates_cards_sent_with_a_state(app: TestApp) {
        let m = app
            .post(&json!({
                "title": "disk full",
                "content": "db-3",
                "state": {"zh": "告警中", "en": "firing"},
                "state_color": "orange",
                "targets": [{"channel": "welink", "users": ["zhangsan@welink"]}, {"channel": "log", "users": ["a"]}],
                "escalation": [{"after": "10m", "targets": [{"channel": "welink", "users": ["boss@welink"]}]}],
            }))
            .await;
        assert_eq!(m.status, StatusCode::ACCEPTED, "{}", m.text);
        let id = m.body["id"].as_str().unwrap();
        send_due(&app).await;
        let a = ack(&app, SENDER, id, "zhangsan").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let welink = m.body["deliveries"][0]["id"].as_str().unwrap();
        assert_eq!(a.body["state_updates"], json!([welink]));
        let v = get(&app, id).await;
        let states: Vec<&Value> = v["deliveries"][0]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["op"] == "state")
            .collect();
        assert_eq!(states.len(), 1, "{v}");
        let again = ack(&app, SENDER, id, "lisi").await;
        assert_eq!(again.body["state_updates"], json!([]));
    }

    /// The acknowledge link is a button on a WeLink app card with room for one, and a line of
    /// the text elsewhere (a WeCom text message here).
    async fn the_link_is_a_button_or_a_line(app: TestApp) {
        let m = app
            .post(&json!({
                "title": "disk full",
                "fields": [{"key": "host", "value": "db-3"}],
                "content": "db-3 /var at 95%",
                "url": "https://ops.example.com/db-3",
                "targets": [{"channel": "welink", "users": ["zhangsan@welink"]}, {"channel": "wecom", "users": ["zhangsan"]}],
                "escalation": [{"after": "10m", "targets": [{"channel": "wecom", "users": ["boss"]}]}],
            }))
            .await;
        assert_eq!(m.status, StatusCode::ACCEPTED, "{}", m.text);
        let link = m.body["ack_url"].as_str().unwrap().to_string();
        let mut bodies = Vec::new();
        for lane in app.store.lanes().lanes().await.unwrap() {
            let claimed = app
                .store
                .outbox()
                .claim(&lane.info.lane, "w", 100, 60_000)
                .await
                .unwrap();
            bodies.extend(claimed.into_iter().map(|p| (p.channel, p.body)));
        }
        let welink = &bodies
            .iter()
            .find(|(c, _)| c == "welink")
            .expect("welink call")
            .1;
        let buttons = welink.to_string();
        assert!(
            buttons.contains(&format!("\"btnUrl\":\"{link}\"")),
            "{welink}"
        );
        let wecom = &bodies
            .iter()
            .find(|(c, _)| c == "wecom")
            .expect("wecom call")
            .1;
        assert!(wecom.to_string().contains(&link), "{wecom}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn link_sqlite() {
        with_every_channel(Backend::Sqlite, the_link_is_a_button_or_a_line).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn link_postgres() {
        with_every_channel(Backend::Postgres, the_link_is_a_button_or_a_line).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        with_every_channel(
            Backend::Sqlite,
            acknowledging_updates_cards_sent_with_a_state,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        with_every_channel(
            Backend::Postgres,
            acknowledging_updates_cards_sent_with_a_state,
        )
        .await;
    }
}
