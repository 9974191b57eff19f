//! POST /v1/messages: the answer, every refusal, idempotency, group commit and outages.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{message, TestApp, SENDER};
use serde_json::{json, Value};

async fn accepted_message_has_the_contract_shape(app: TestApp) {
    let a = app.post(&message("Disk almost full")).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let b = &a.body;
    assert!(b["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(b["status"], "accepted");
    assert_eq!(b["created_at"], "2026-11-23T10:00:00.000Z");
    let d = &b["deliveries"][0];
    assert!(d["id"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(d["channel"], "logch");
    assert_eq!(d["kind"], "log");
    assert_eq!(d["type"], "log");
    assert_eq!(d["status"], "queued");
    assert_eq!(d["upstream_ids"], json!([]));
    assert_eq!(d["failed_recipients"], json!([]));
    assert_eq!(d["truncated"], false);
    // A 202 means committed: the message reads back at once.
    let got = app
        .bearer(
            SENDER,
            "GET",
            &format!("/v1/messages/{}", b["id"].as_str().unwrap()),
            b"",
        )
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.body["id"], b["id"]);
    assert_eq!(got.body["deliveries"][0]["id"], d["id"]);
    assert_eq!(got.body["deliveries"][0]["status"], "queued");
}

async fn each_rule_is_a_422_naming_its_field(app: TestApp) {
    let base = message("t");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"title": "t", "targets": [{"channel": "nope"}]}),
            "targets[0].channel",
        ),
        (json!({"title": "t", "targets": []}), "targets"),
        (json!({"targets": [{"channel": "logch"}]}), "content"),
        (with(&base, "url", json!("ftp://x")), "url"),
        (with(&base, "image_url", json!("not a url")), "image_url"),
        (with(&base, "articles", json!([])), "articles"),
        (
            with(
                &base,
                "articles",
                json!([{"title": "a", "url": "javascript:alert(1)"}]),
            ),
            "articles[0].url",
        ),
        (
            with(
                &base,
                "buttons",
                json!([{"title": "a", "url": "https://x"}, {"title": "b", "url": "https://x"}, {"title": "c", "url": "https://x"}]),
            ),
            "buttons",
        ),
        (
            with(&base, "state", json!({"zh": "处", "en": "done"})),
            "state.zh",
        ),
        (
            with(&base, "state", json!({"zh": "处理中", "en": "x"})),
            "state.en",
        ),
        (
            with(&base, "expires_at", json!("2020-01-01T00:00:00Z")),
            "expires_at",
        ),
        (with(&base, "not_before", json!("tomorrow")), "not_before"),
        (with(&base, "metadata", json!([1])), "metadata"),
        (with(&base, "idempotency_key", json!("")), "idempotency_key"),
        (with(&base, "priority", json!("whenever")), "priority"),
        (
            json!({"title": "t", "targets": [{"channel": "logch", "users": "bob"}]}),
            "targets[0].users",
        ),
        (
            json!({"title": "t", "targets": [{"channel": "logch", "colour": 1}]}),
            "targets[0].colour",
        ),
        (json!([1, 2]), ""),
    ];
    for (body, field) in cases {
        let a = app.post(&body).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {}",
            a.text
        );
        assert_eq!(a.field(), field, "{body} → {}", a.text);
        assert!(!a.code().is_empty());
        assert!(a.body["error"]["message"].as_str().is_some());
    }
    // An unknown field is named in the message.
    let a = app.post(&with(&base, "titel", json!("x"))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("titel"));
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}

async fn malformed_json_is_400_and_a_big_body_413(app: TestApp) {
    for body in [&b"{"[..], b"", b"not json", b"{\"title\": }", b"\xff\xfe"] {
        let a = app.bearer(SENDER, "POST", "/v1/messages", body).await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(a.code(), "malformed_json");
    }
    let big = json!({"title": "x".repeat(20_000), "targets": [{"channel": "logch"}]});
    let a = app.post(&big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.code(), "payload_too_large");
    // Without a Content-Length too (a streamed body).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b' '; 1024])).collect();
    let req = Request::builder()
        .method("POST")
        .uri("/v1/messages")
        .header("authorization", format!("Bearer {}", SENDER.1))
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let a = app.call(req).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn idempotency_replays_and_conflicts(app: TestApp) {
    let mut m = message("once");
    m["idempotency_key"] = json!("alert-7f3a");
    let first = app.post(&m).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Same key, same meaning (keys in another order): the first answer.
    let reordered = json!({"targets": m["targets"], "content": m["content"], "idempotency_key": "alert-7f3a", "title": "once"});
    let again = app.post(&reordered).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    // Same key, another body: 409.
    let mut other = m.clone();
    other["title"] = json!("changed");
    let c = app.post(&other).await;
    assert_eq!(c.status, StatusCode::CONFLICT);
    assert_eq!(c.code(), "idempotency_conflict");
    // The header sets the key.
    let req = |body: &Value, key: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/messages")
            .header("authorization", format!("Bearer {}", SENDER.1))
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let h1 = app.call(req(&message("hdr"), "hdr-1")).await;
    assert_eq!(h1.status, StatusCode::ACCEPTED);
    assert_eq!(h1.body["idempotency_key"], "hdr-1");
    let h2 = app.call(req(&message("hdr"), "hdr-1")).await;
    assert_eq!(h2.status, StatusCode::OK);
    assert_eq!(h2.body["id"], h1.body["id"]);
    // Header and body given and different: 422.
    let h3 = app.call(req(&m, "another")).await;
    assert_eq!(h3.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h3.field(), "idempotency_key");
    // The same key in another tenant is another message.
    let o = app
        .bearer(
            common::OTHER,
            "POST",
            "/v1/messages",
            m.to_string().as_bytes(),
        )
        .await;
    assert_eq!(o.status, StatusCode::ACCEPTED);
    assert_ne!(o.body["id"], first.body["id"]);
}

async fn concurrent_requests_share_commits(app: TestApp) {
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut m = message(&format!("m{i}"));
            if i % 3 == 0 {
                // Some share a key: one insert, the rest replays.
                m = message("shared");
                m["idempotency_key"] = json!("shared-key");
            }
            app.post(&m).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut shared = std::collections::HashSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert!(
            matches!(a.status, StatusCode::ACCEPTED | StatusCode::OK),
            "{}",
            a.text
        );
        if a.body["idempotency_key"] == "shared-key" {
            shared.insert(a.body["id"].as_str().unwrap().to_string());
        } else {
            assert!(ids.insert(a.body["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(ids.len(), 40);
    assert_eq!(shared.len(), 1, "one message holds the shared key");
}

async fn a_closed_store_is_503_with_retry_after(app: TestApp) {
    app.store.close().await;
    let a = app.post(&message("x")).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(a.code(), "unavailable");
    let r = app
        .call(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let h = app
        .call(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(h.status, StatusCode::OK);
}

/// Upstream-kind channels beside `logch` (never contacted: these tests only post), the
/// `wecom_app` one without `allow_all`.
async fn with_upstream_channels<F, Fut>(backend: common::Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use notify_channels::{build_channel, ChannelConfig};
    use notify_core::{ChannelKind, ManualClock, Secret};
    let clock = ManualClock::new(common::T0);
    let scratch =
        notify_testkit::ScratchStore::open(backend, 8, std::sync::Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    let upstream = "http://127.0.0.1:9";
    let mut welink = ChannelConfig::of_kind(ChannelKind::Welink);
    welink.base_url = Some(format!("{upstream}/api"));
    welink.client_id = Some("wl-client".into());
    welink.client_secret = Some(Secret::new("wl-secret"));
    welink.owner = Some("Ops".into());
    let mut wecom = ChannelConfig::of_kind(ChannelKind::WecomApp);
    wecom.base_url = Some(upstream.into());
    wecom.corp_id = Some("corp".into());
    wecom.corp_secret = Some(Secret::new("wecom-secret"));
    wecom.agent_id = Some(1000002);
    let mut workid = ChannelConfig::of_kind(ChannelKind::WecomWorkid);
    workid.base_url = Some(upstream.into());
    workid.token_url = Some(format!("{upstream}/oauth/token"));
    workid.client_id = Some("workid-client".into());
    workid.client_secret = Some(Secret::new("workid-secret"));
    let channels = [
        ("logch", ChannelConfig::of_kind(ChannelKind::Log)),
        ("welink", welink),
        ("wecom", wecom),
        ("workid", workid),
    ]
    .iter()
    .map(|(name, c)| build_channel(name, c).unwrap())
    .collect();
    let state = notify_api::AppState::new(store.clone(), channels, common::config(), None);
    let app = TestApp {
        router: notify_api::router(state),
        store,
        clock,
    };
    scratch.run(body(app)).await;
}

/// What the upstreams would refuse is a 422 at ingress naming the field (issue 13, items 6,
/// 10, 11), and nothing is stored.
async fn upstream_refusals_are_422_at_ingress(app: TestApp) {
    let wecom = json!({"channel": "wecom", "users": ["zhangsan"]});
    let workid = json!({"channel": "workid", "work_ids": ["ww0517"]});
    let welink = json!({"channel": "welink", "users": ["zhangsan@welink"]});
    let cases: Vec<(Value, &str)> = vec![
        // '|' would split one id into several WeCom recipients.
        (
            json!({"title": "t", "targets": [welink, {"channel": "wecom", "users": ["a|b|c"]}]}),
            "targets[1].users[0]",
        ),
        (
            json!({"title": "t", "targets": [{"channel": "wecom", "users": ["a"], "parties": ["1", "2|3"]}]}),
            "targets[0].parties[1]",
        ),
        (
            json!({"title": "t", "targets": [{"channel": "wecom", "users": ["a"], "tags": ["7|8"]}]}),
            "targets[0].tags[0]",
        ),
        (
            json!({"title": "t", "targets": [{"channel": "workid", "work_ids": ["ww1|ww2"]}]}),
            "targets[0].work_ids[0]",
        ),
        // '@all' reaches the whole app: not without the channel's allow_all.
        (
            json!({"title": "t", "targets": [{"channel": "wecom", "users": ["@all"]}]}),
            "targets[0].users[0]",
        ),
        // WeLink app-card lines need a value.
        (
            json!({"title": "t", "url": "https://x", "fields": [{"key": "Host", "value": ""}], "targets": [welink]}),
            "fields[0].value",
        ),
        // WeCom links are http(s); h5:// is WeLink's.
        (
            json!({"title": "t", "url": "h5://demo.com", "targets": [welink, wecom]}),
            "url",
        ),
        (
            json!({"title": "t", "url": "h5://demo.com", "targets": [workid]}),
            "url",
        ),
        (
            json!({"title": "t", "buttons": [{"title": "b", "url": "h5://demo.com"}],
                   "targets": [{"channel": "wecom", "users": ["a"], "type": "textcard"}]}),
            "buttons[0].url",
        ),
        (
            json!({"articles": [{"title": "a", "url": "h5://demo.com", "image_url": "https://x/a.png"}],
                   "targets": [wecom]}),
            "articles[0].url",
        ),
    ];
    for (body, field) in cases {
        let a = app.post(&body).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {}",
            a.text
        );
        assert_eq!(a.field(), field, "{body} → {}", a.text);
    }
    let listed = app.bearer(SENDER, "GET", "/v1/messages", b"").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(
        listed.body["messages"],
        json!([]),
        "nothing refused is stored"
    );
    // The same link is fine where it is only WeLink's.
    let a = app
        .post(&json!({"title": "t", "url": "h5://demo.com", "targets": [welink]}))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
}

on_both_backends!(
    accepted_message_has_the_contract_shape,
    each_rule_is_a_422_naming_its_field,
    malformed_json_is_400_and_a_big_body_413,
    idempotency_replays_and_conflicts,
    concurrent_requests_share_commits,
    a_closed_store_is_503_with_retry_after,
);

notify_testkit::on_both_backends!(crate::with_upstream_channels, 2; upstream_refusals_are_422_at_ingress);
