//! People, groups and fallback over the API (contract §7): the directory routes and their
//! scope, the expansion of `people`/`groups` per channel kind at ingress and its 422s, a
//! directory change not touching an accepted message, and the fallback loop adding the
//! fallback delivery for exactly the recipients the primary did not reach.

mod common;

use std::future::Future;
use std::sync::Arc;

use axum::http::StatusCode;
use common::{every_channel, Answer, Backend, TestApp, ADMIN, SENDER, T0};
use notify_api::AppState;
use notify_core::{FailedRecipient, ManualClock};
use notify_store::{Completion, PartResult};
use notify_testkit::ScratchStore;
use serde_json::{json, Value};

/// A router with every sandbox channel, and its state for the fallback loop.
async fn with_state<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp, AppState) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    let state = AppState::new(store.clone(), every_channel(), common::config(), None);
    let app = TestApp {
        router: notify_api::router(state.clone()),
        store,
        clock,
    };
    scratch.run(body(app, state)).await;
}

macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        notify_testkit::on_both_backends!(super::with_state, 2; $($name),+);
    };
}

on_both!(
    the_directory_is_kept_by_admins_alone,
    bad_people_and_groups_are_refused_by_name,
    people_and_groups_expand_to_each_kinds_ids,
    unknown_names_and_missing_ids_are_422s_naming_them,
    a_directory_change_does_not_touch_an_accepted_message,
    a_failed_delivery_falls_back_to_the_same_people_elsewhere,
    refused_directory_people_get_a_fallback_for_them_alone,
    a_store_outage_while_reading_the_directory_is_503,
);

async fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> Answer {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    app.bearer(ADMIN, method, path, &body).await
}

/// zhangsan (every id), lisi (WeLink only) and the group dba = [zhangsan, lisi], in the
/// sender's tenant t1.
async fn seed(app: &TestApp) {
    let a = admin(
        app,
        "PUT",
        "/v1/people/zhangsan?tenant=t1",
        json!({"name": "张三", "welink": "zhangsan@welink", "wecom": "zhangsan", "workid": "ww0517"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = admin(
        app,
        "PUT",
        "/v1/people/lisi?tenant=t1",
        json!({"welink": "lisi@welink"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = admin(
        app,
        "PUT",
        "/v1/groups/dba?tenant=t1",
        json!({"members": ["zhangsan", "lisi"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

fn post_body(targets: Value) -> Value {
    json!({"title": "Disk almost full", "content": "db-3 /var at 95%", "targets": targets})
}

/// The recipients of each delivery's first part, as stored.
async fn recipients(app: &TestApp, id: &str) -> Vec<Vec<String>> {
    let m = app
        .store
        .reads()
        .get_message(None, id)
        .await
        .unwrap()
        .unwrap();
    m.deliveries
        .iter()
        .map(|d| d.parts[0].recipients.clone())
        .collect()
}

async fn the_directory_is_kept_by_admins_alone(app: TestApp, _state: AppState) {
    seed(&app).await;
    let a = admin(&app, "GET", "/v1/people/zhangsan?tenant=t1", Value::Null).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"id": "zhangsan", "name": "张三", "welink": "zhangsan@welink", "wecom": "zhangsan", "workid": "ww0517"})
    );
    let a = admin(&app, "GET", "/v1/people?tenant=t1", Value::Null).await;
    assert_eq!(a.body["people"].as_array().unwrap().len(), 2);
    // The admin's own tenant (t0) has an empty directory.
    let a = admin(&app, "GET", "/v1/people", Value::Null).await;
    assert_eq!(a.body, json!({"people": []}));
    let a = admin(&app, "GET", "/v1/groups?tenant=t1", Value::Null).await;
    assert_eq!(
        a.body,
        json!({"groups": [{"name": "dba", "members": ["zhangsan", "lisi"]}]})
    );
    // Replacing answers 200.
    let a = admin(
        &app,
        "PUT",
        "/v1/groups/dba?tenant=t1",
        json!({"members": ["zhangsan"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // A group still naming lisi? No: zhangsan is named, so deleting zhangsan is refused.
    let a = admin(&app, "DELETE", "/v1/people/zhangsan?tenant=t1", Value::Null).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.code(), "person_in_group");
    let a = admin(&app, "DELETE", "/v1/groups/dba?tenant=t1", Value::Null).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = admin(&app, "GET", "/v1/groups/dba?tenant=t1", Value::Null).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = admin(&app, "DELETE", "/v1/people/zhangsan?tenant=t1", Value::Null).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = admin(&app, "DELETE", "/v1/people/zhangsan?tenant=t1", Value::Null).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // Without the admin scope: 403 on every route.
    for (method, path) in [
        ("GET", "/v1/people"),
        ("GET", "/v1/people/lisi"),
        ("PUT", "/v1/people/lisi"),
        ("DELETE", "/v1/people/lisi"),
        ("GET", "/v1/groups"),
        ("GET", "/v1/groups/dba"),
        ("PUT", "/v1/groups/dba"),
        ("DELETE", "/v1/groups/dba"),
    ] {
        let a = app.bearer(SENDER, method, path, b"{}").await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            a.text
        );
        assert_eq!(a.code(), "missing_scope");
    }
}

async fn bad_people_and_groups_are_refused_by_name(app: TestApp, _state: AppState) {
    seed(&app).await;
    let a = admin(
        &app,
        "PUT",
        "/v1/people/wangwu?tenant=t1",
        json!({"welink": "w@welink", "phone": "123"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.field(), "phone");
    let a = admin(
        &app,
        "PUT",
        "/v1/people/wangwu?tenant=t1",
        json!({"welink": 5}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.field(), "welink");
    let a = admin(
        &app,
        "PUT",
        "/v1/groups/ops?tenant=t1",
        json!({"members": ["lisi", "wangwu"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!((a.field(), a.code()), ("members[1]", "unknown_person"));
    let a = admin(
        &app,
        "PUT",
        "/v1/groups/ops?tenant=t1",
        json!({"members": [], "owner": "x"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
}

async fn people_and_groups_expand_to_each_kinds_ids(app: TestApp, _state: AppState) {
    seed(&app).await;
    let a = app
        .post(&post_body(json!([
            {"channel": "welink", "people": ["zhangsan"], "groups": ["dba"], "users": ["other@welink"]},
            {"channel": "xiaowei", "people": ["lisi"]},
            {"channel": "wecom", "people": ["zhangsan"]},
            {"channel": "workid", "people": ["zhangsan"]},
        ])))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(
        recipients(&app, id).await,
        [
            vec!["other@welink", "zhangsan@welink", "lisi@welink"],
            vec!["lisi@welink"],
            vec!["zhangsan"],
            vec!["ww0517"],
        ]
    );
    // The stored body keeps what the caller wrote.
    let m = app
        .store
        .reads()
        .get_message(None, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.deliveries.len(), 4);
}

async fn unknown_names_and_missing_ids_are_422s_naming_them(app: TestApp, _state: AppState) {
    seed(&app).await;
    let cases = [
        (
            json!([{"channel": "welink", "people": ["zhangsan", "nobody"]}]),
            "targets[0].people[1]",
            "unknown_person",
        ),
        (
            json!([{"channel": "welink", "users": ["u"]}, {"channel": "welink", "groups": ["nope"]}]),
            "targets[1].groups[0]",
            "unknown_group",
        ),
        (
            json!([{"channel": "wecom", "groups": ["dba"]}]),
            "targets[0].groups[0]",
            "no_channel_id",
        ),
        (
            json!([{"channel": "juzi", "chat_id": "c", "people": ["zhangsan"]}]),
            "targets[0].people",
            "not_supported",
        ),
        (
            json!([{"channel": "welink", "people": ["lisi"], "fallback": {"channel": "wecom"}}]),
            "targets[0].fallback",
            "no_channel_id",
        ),
        (
            json!([{"channel": "welink", "people": ["zhangsan"], "fallback": {"channel": "wecom", "people": ["ghost"]}}]),
            "targets[0].fallback.people[0]",
            "unknown_person",
        ),
        (
            json!([{"channel": "welink", "people": ["zhangsan"], "fallback": {"channel": "nope"}}]),
            "targets[0].fallback.channel",
            "unknown_channel",
        ),
        (
            json!([{"channel": "welink", "people": ["zhangsan"], "fallback": {"channel": "wecom", "fallback": {"channel": "log", "users": ["x"]}}}]),
            "targets[0].fallback.fallback",
            "not_supported",
        ),
        (
            json!([{"channel": "welink", "people": ["zhangsan"], "fallback": {"channel": "wecom", "work_ids": ["x"]}}]),
            "targets[0].fallback.work_ids",
            "not_supported",
        ),
    ];
    for (targets, field, code) in cases {
        let a = app.post(&post_body(targets.clone())).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{targets}: {}",
            a.text
        );
        assert_eq!(
            (a.field(), a.code()),
            (field, code),
            "{targets}: {}",
            a.text
        );
    }
}

async fn a_directory_change_does_not_touch_an_accepted_message(app: TestApp, _state: AppState) {
    seed(&app).await;
    let a = app
        .post(&post_body(
            json!([{"channel": "welink", "people": ["zhangsan"]}]),
        ))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let first = a.body["id"].as_str().unwrap().to_string();
    let a = admin(
        &app,
        "PUT",
        "/v1/people/zhangsan?tenant=t1",
        json!({"welink": "zs-new@welink"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app
        .post(&post_body(
            json!([{"channel": "welink", "people": ["zhangsan"]}]),
        ))
        .await;
    let second = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(recipients(&app, &first).await, [vec!["zhangsan@welink"]]);
    assert_eq!(recipients(&app, &second).await, [vec!["zs-new@welink"]]);
}

/// The lane of the only queued part.
async fn queued_lane(app: &TestApp) -> String {
    let depths = app.store.reads().lane_depths().await.unwrap();
    let lanes: Vec<&String> = depths
        .iter()
        .filter(|(_, status, n)| status == "queued" && *n > 0)
        .map(|(lane, _, _)| lane)
        .collect();
    assert_eq!(lanes.len(), 1, "{depths:?}");
    lanes[0].clone()
}

async fn finish_only_part(app: &TestApp, result: PartResult) {
    let lane = queued_lane(app).await;
    let parts = app
        .store
        .outbox()
        .claim(&lane, "w", 10, 60_000)
        .await
        .unwrap();
    assert_eq!(parts.len(), 1);
    app.store
        .outbox()
        .complete(&[Completion {
            part_id: parts[0].id.clone(),
            lease_token: parts[0].lease_token.clone(),
            result,
            attempt: None,
        }])
        .await
        .unwrap();
}

async fn a_failed_delivery_falls_back_to_the_same_people_elsewhere(app: TestApp, state: AppState) {
    seed(&app).await;
    let a = app
        .post(&post_body(json!([
            {"channel": "welink", "people": ["zhangsan"], "fallback": {"channel": "wecom"}}
        ])))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_string();
    let primary = a.body["deliveries"][0]["id"].as_str().unwrap().to_string();
    // Nothing is due while the primary is in flight.
    assert_eq!(
        notify_api::background::fallback::pass(&state)
            .await
            .unwrap(),
        0
    );
    finish_only_part(
        &app,
        PartResult::Failed {
            error: "permanent".into(),
        },
    )
    .await;
    assert_eq!(
        notify_api::background::fallback::pass(&state)
            .await
            .unwrap(),
        1
    );
    let got = app
        .bearer(SENDER, "GET", &format!("/v1/messages/{id}"), b"")
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    let ds = got.body["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 2, "{}", got.text);
    assert_eq!(ds[0]["status"], "failed");
    assert!(ds[0].get("fallback_of").is_none());
    assert_eq!(ds[1]["channel"], "wecom");
    assert_eq!(ds[1]["fallback_of"], primary);
    assert_eq!(ds[1]["status"], "queued");
    assert_eq!(got.body["status"], "accepted");
    assert_eq!(recipients(&app, &id).await[1], ["zhangsan"]);
    // A second pass (another replica) adds nothing.
    assert_eq!(
        notify_api::background::fallback::pass(&state)
            .await
            .unwrap(),
        0
    );
}

async fn refused_directory_people_get_a_fallback_for_them_alone(app: TestApp, state: AppState) {
    seed(&app).await;
    let a = admin(
        &app,
        "PUT",
        "/v1/people/lisi?tenant=t1",
        json!({"welink": "lisi@welink", "workid": "ww0001"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app
        .post(&post_body(json!([
            {"channel": "welink", "groups": ["dba"], "users": ["outsider@welink"], "fallback": {"channel": "workid"}}
        ])))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_string();
    let refused = |r: &str| FailedRecipient {
        recipient: r.into(),
        code: "40031".into(),
        message: "invalid user".into(),
    };
    finish_only_part(
        &app,
        PartResult::Done {
            upstream_id: Some("up-1".into()),
            failed_recipients: vec![refused("lisi@welink"), refused("outsider@welink")],
        },
    )
    .await;
    assert_eq!(
        notify_api::background::fallback::pass(&state)
            .await
            .unwrap(),
        1
    );
    let r = recipients(&app, &id).await;
    assert_eq!(r.len(), 2);
    assert_eq!(r[1], ["ww0001"], "lisi alone, by work ID");
    let m = app
        .store
        .reads()
        .get_message(None, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.deliveries[0].status, "sent");
    assert_eq!(m.deliveries[1].kind, notify_core::ChannelKind::WecomWorkid);
}

async fn a_store_outage_while_reading_the_directory_is_503(app: TestApp, _state: AppState) {
    app.store.close().await;
    let people = post_body(json!([{"channel": "welink", "people": ["zhangsan"]}]));
    let one = app.post(&people).await;
    // A batch is refused whole, as for any outage: none of it was read or stored, so the
    // same request may be sent again.
    let batch = app
        .bearer(
            SENDER,
            "POST",
            "/v1/messages/batch",
            json!({"messages": [people, people]}).to_string().as_bytes(),
        )
        .await;
    for a in [one, batch] {
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
        assert_eq!(a.code(), "unavailable", "{}", a.text);
        assert_eq!(a.headers["retry-after"], "1");
    }
}
