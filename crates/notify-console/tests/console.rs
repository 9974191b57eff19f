//! The console over HTTP (in-process, the gateway's routers): sign-in, the session cookie, CSRF,
//! the security headers and the API calls made as the signed-in admin (reads, recall, retry,
//! acknowledge, the directory's people and groups).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_console::{ConsoleConfig, ConsoleState};
use notify_core::{ManualClock, Secret};
use notify_testkit::{Backend, ScratchStore, T0};
use serde_json::{json, Value};
use tower::ServiceExt;

const SECRET: &[u8] = b"console-test-session-secret-32-bytes!";

fn client(name: &str, secret: &str, scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        name: name.into(),
        access_key: format!("{name}-key"),
        secret_key: Secret::new(secret),
        previous_secret_key: None,
        tenant: "default".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        max_per_second: 0,
        connector_signing: false,
    }
}

fn clients() -> Vec<ClientConfig> {
    let mut rotated = client("rotated", "rotated-new-secret", &["admin"]);
    rotated.previous_secret_key = Some(Secret::new("rotated-old-secret"));
    vec![
        client("ops", "ops-secret", &["admin"]),
        client("reader", "reader-secret", &["read", "send", "recall"]),
        rotated,
    ]
}

struct Console {
    app: Router,
    clock: ManualClock,
    scratch: Option<ScratchStore>,
}

impl Console {
    async fn start(public_url: &str, clients: Vec<ClientConfig>) -> Self {
        let clock = ManualClock::new(T0);
        let scratch = ScratchStore::open(Backend::Sqlite, 4, Arc::new(clock.clone())).await;
        let app = Self::app(&scratch, public_url, clients);
        Self {
            app,
            clock,
            scratch: Some(scratch),
        }
    }

    fn app(scratch: &ScratchStore, public_url: &str, clients: Vec<ClientConfig>) -> Router {
        let store = scratch.store.clone();
        let state = AppState::new(
            store.clone(),
            Vec::new(),
            ApiConfig {
                clients: clients.clone(),
                ..ApiConfig::default()
            },
            None,
        );
        let api = notify_api::router(state);
        let console = ConsoleState::new(
            store,
            api.clone(),
            ConsoleConfig::new(public_url, SECRET.to_vec(), clients),
        )
        .unwrap();
        api.merge(notify_console::router(console))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        call(&self.app, method, path, headers, body).await
    }

    /// Signs in as `key`/`secret`: the cookie pair (`name=value`) and the CSRF token.
    async fn sign_in(&self, key: &str, secret: &str) -> (String, String) {
        let (status, headers, body) = self
            .call(
                Method::POST,
                "/console/api/sign-in",
                &[("x-console-csrf", "sign-in")],
                Some(json!({"access_key": key, "secret_key": secret})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let set = headers[header::SET_COOKIE].to_str().unwrap();
        let pair = set.split(';').next().unwrap().to_string();
        (pair, body["csrf"].as_str().unwrap().to_string())
    }

    /// Stores messages of alert `key` accepted at each of `at` (no deliveries: the console's
    /// gateway has no channels), as ingress would: the first leads, repeats inside the 5-minute
    /// window are suppressed. Their ids, in order.
    async fn alert_messages(&self, key: &str, at: &[i64]) -> Vec<String> {
        let store = &self.scratch.as_ref().unwrap().store;
        let mut ids = Vec::new();
        for (n, &t) in at.iter().enumerate() {
            let id = notify_core::MessageId::new_at(t).0;
            let m = notify_store::NewMessage {
                id: id.clone(),
                tenant: "default".into(),
                caller: "ops".into(),
                body_hash: format!("h{n}"),
                priority: 2,
                title: format!("{key} {n}"),
                body: "{}".into(),
                response: format!("{{\"id\":\"{id}\"}}"),
                created_at: t,
                expires_at: t + 3_600_000,
                alert: Some(notify_store::NewAlert {
                    key: key.into(),
                    status: notify_core::AlertStatus::Firing,
                    dedup_window_ms: 300_000,
                    fingerprint: None,
                }),
                ..Default::default()
            };
            store.outbox().insert_messages(&[m]).await.unwrap();
            ids.push(id);
        }
        ids
    }

    async fn stop(mut self) {
        if let Some(s) = self.scratch.take() {
            s.remove().await;
        }
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

#[tokio::test]
async fn an_admin_key_signs_in_to_a_strict_httponly_session() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    let (status, headers, body) = c
        .call(
            Method::POST,
            "/console/api/sign-in",
            &[("x-console-csrf", "sign-in")],
            Some(json!({"access_key": "ops-key", "secret_key": "ops-secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["access_key"], "ops-key");
    assert_eq!(body["name"], "ops");
    assert_eq!(body["csrf"].as_str().unwrap().len(), 32);
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("notify_console="), "{set}");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    // The session reads back, with the same CSRF token.
    let pair = set.split(';').next().unwrap();
    let (status, _, me) = c
        .call(
            Method::GET,
            "/console/api/session",
            &[("cookie", pair)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["csrf"], body["csrf"]);
    // A rotated caller signs in with its previous secret too.
    c.sign_in("rotated-key", "rotated-old-secret").await;
    c.sign_in("rotated-key", "rotated-new-secret").await;
    c.stop().await;
}

#[tokio::test]
async fn over_https_the_session_cookie_is_secure() {
    let c = Console::start("https://notify.example.com", clients()).await;
    let (status, headers, _) = c
        .call(
            Method::POST,
            "/console/api/sign-in",
            &[("x-console-csrf", "sign-in")],
            Some(json!({"access_key": "ops-key", "secret_key": "ops-secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.ends_with("; Secure"), "{set}");
    c.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_an_unknown_key_and_a_non_admin_are_refused() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    for (key, secret) in [
        ("ops-key", "wrong"),
        ("ops-key", ""),
        ("nobody", "ops-secret"),
        ("reader-key", "reader-secret"),
        ("reader-key", "ops-secret"),
    ] {
        let (status, headers, body) = c
            .call(
                Method::POST,
                "/console/api/sign-in",
                &[("x-console-csrf", "sign-in")],
                Some(json!({"access_key": key, "secret_key": secret})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key}/{secret}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert!(headers.get(header::SET_COOKIE).is_none(), "{key}");
    }
    // A body that is not the sign-in object names what is wrong.
    let (status, _, body) = c
        .call(
            Method::POST,
            "/console/api/sign-in",
            &[("x-console-csrf", "sign-in")],
            Some(json!("ops-key:ops-secret")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("body:"));
    c.stop().await;
}

#[tokio::test]
async fn a_change_without_the_csrf_header_is_refused() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    // Sign-in itself needs the header (a cross-site form cannot send it).
    let (status, _, _) = c
        .call(
            Method::POST,
            "/console/api/sign-in",
            &[],
            Some(json!({"access_key": "ops-key", "secret_key": "ops-secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (cookie, csrf) = c.sign_in("ops-key", "ops-secret").await;
    let recall = "/console/api/v1/messages/msg_01JZZZZZZZZZZZZZZZZZZZZZZZ/recall";
    for headers in [
        vec![("cookie", cookie.as_str())],
        vec![("cookie", cookie.as_str()), ("x-console-csrf", "guess")],
    ] {
        let (status, _, body) = c.call(Method::POST, recall, &headers, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "csrf");
        let (status, _, _) = c
            .call(Method::POST, "/console/api/sign-out", &headers, None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // With the token the API itself answers (no such message).
    let (status, _, body) = c
        .call(
            Method::POST,
            recall,
            &[("cookie", &cookie), ("x-console-csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_ne!(body["error"]["code"], "csrf");
    c.stop().await;
}

#[tokio::test]
async fn api_calls_go_through_as_the_signed_in_admin_and_only_those_the_console_makes() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    let (status, _, _) = c
        .call(Method::GET, "/console/api/v1/channels", &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no session");
    let (cookie, csrf) = c.sign_in("ops-key", "ops-secret").await;
    let with = [
        ("cookie", cookie.as_str()),
        ("x-console-csrf", csrf.as_str()),
    ];
    let (status, _, body) = c
        .call(Method::GET, "/console/api/v1/channels", &with, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["channels"].is_array());
    let (status, _, body) = c
        .call(Method::GET, "/console/api/v1/stats?window=1h", &with, None)
        .await;
    assert_eq!(
        (status, body["window"].as_str()),
        (StatusCode::OK, Some("1h"))
    );
    let (status, _, body) = c
        .call(
            Method::GET,
            "/console/api/v1/messages?status=sent",
            &with,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The API's own checks still apply to what is passed on.
    let (status, _, body) = c
        .call(
            Method::GET,
            "/console/api/v1/stats?window=soon",
            &with,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Sending, batches and card states are not the console's to make.
    for path in ["messages", "messages/batch", "messages/m1/state"] {
        let (status, _, _) = c
            .call(
                Method::POST,
                &format!("/console/api/v1/{path}"),
                &with,
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    c.stop().await;
}

#[tokio::test]
async fn a_session_ends_when_it_expires_when_the_key_loses_admin_and_at_sign_out() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    let (cookie, csrf) = c.sign_in("ops-key", "ops-secret").await;
    let session = |app: Router, cookie: String| async move {
        call(
            &app,
            Method::GET,
            "/console/api/session",
            &[("cookie", &cookie)],
            None,
        )
        .await
        .0
    };
    // The same secret, but `ops` is no longer an admin (a replica with the new config).
    let mut demoted = clients();
    demoted[0].scopes = vec!["read".into()];
    let other = Console::app(c.scratch.as_ref().unwrap(), "http://x", demoted);
    assert_eq!(
        session(other, cookie.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(session(c.app.clone(), cookie.clone()).await, StatusCode::OK);
    // A forged cookie is refused.
    let forged = format!("{}x", cookie);
    assert_eq!(
        session(c.app.clone(), forged).await,
        StatusCode::UNAUTHORIZED
    );
    // Sign-out deletes the cookie.
    let (status, headers, _) = c
        .call(
            Method::POST,
            "/console/api/sign-out",
            &[("cookie", &cookie), ("x-console-csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.starts_with("notify_console=;") && set.contains("Max-Age=0"),
        "{set}"
    );
    // Twelve hours on, the cookie is refused.
    c.clock
        .advance_ms(Duration::from_secs(12 * 3600).as_millis() as i64);
    assert_eq!(
        session(c.app.clone(), cookie).await,
        StatusCode::UNAUTHORIZED
    );
    c.stop().await;
}

#[tokio::test]
async fn every_console_answer_carries_a_strict_content_security_policy() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    for path in [
        "/console/",
        "/console/console.js",
        "/console/console.css",
        "/console/api/session",
    ] {
        let (_, headers, _) = c.call(Method::GET, path, &[], None).await;
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("http"),
            "{csp}"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    }
    // The page loads nothing from elsewhere and runs no inline script.
    let page = include_str!("../assets/index.html");
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains("<script src=\"/console/console.js\" defer></script>"));
    assert!(!page.contains("style=") && !page.contains("onclick"));
    let script = include_str!("../assets/console.js");
    assert!(!script.contains("https://") && !script.contains("innerHTML"));
    c.stop().await;
}

#[tokio::test]
async fn activity_answers_the_window_and_checks_it() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    let (cookie, _) = c.sign_in("ops-key", "ops-secret").await;
    let (status, _, body) = c
        .call(
            Method::GET,
            "/console/api/activity",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["now_ms"], T0);
    assert_eq!(body["since_ms"], T0 - 59 * 60_000);
    assert_eq!(body["minutes"], json!([]));
    assert_eq!(body["suppressed"], 0);
    // A lead and two repeats inside its window: two suppressed in the last hour; a repeat two
    // hours ago is outside the window asked for.
    c.alert_messages("old", &[T0 - 7_200_000, T0 - 7_199_000])
        .await;
    c.alert_messages("disk", &[T0 - 3_000, T0 - 2_000, T0 - 1_000])
        .await;
    let (_, _, body) = c
        .call(
            Method::GET,
            "/console/api/activity",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(body["suppressed"], 2, "{body}");
    let (status, _, body) = c
        .call(
            Method::GET,
            "/console/api/activity?minutes=0",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("minutes:"));
    c.stop().await;
}

#[tokio::test]
async fn directory_changes_and_acknowledge_go_through_only_with_the_csrf_token() {
    let c = Console::start("http://127.0.0.1:8080", clients()).await;
    let (cookie, csrf) = c.sign_in("ops-key", "ops-secret").await;
    let ids = c
        .alert_messages("disk/db-3", &[T0 - 3_000, T0 - 2_000])
        .await;
    let changes = [
        (
            Method::PUT,
            "people/zhangsan".to_string(),
            json!({"name": "Zhang San", "welink": "zhangsan@welink"}),
        ),
        (Method::DELETE, "people/zhangsan".into(), json!({})),
        (Method::PUT, "groups/oncall".into(), json!({"members": []})),
        (Method::DELETE, "groups/oncall".into(), json!({})),
        (
            Method::POST,
            format!("messages/{}/ack", ids[0]),
            json!({"by": "ops"}),
        ),
    ];
    for (method, path, body) in &changes {
        for headers in [
            vec![("cookie", cookie.as_str())],
            vec![("cookie", cookie.as_str()), ("x-console-csrf", "guess")],
        ] {
            let (status, _, answer) = c
                .call(
                    method.clone(),
                    &format!("/console/api/v1/{path}"),
                    &headers,
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "csrf");
        }
    }
    let with = [
        ("cookie", cookie.as_str()),
        ("x-console-csrf", csrf.as_str()),
    ];
    let v1 = |path: &str| format!("/console/api/v1/{path}");
    // Nothing was written or acknowledged without the token.
    let (status, _, body) = c.call(Method::GET, &v1("people"), &with, None).await;
    assert_eq!(
        (status, body["people"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (_, _, body) = c
        .call(
            Method::GET,
            &v1(&format!("messages/{}", ids[0])),
            &with,
            None,
        )
        .await;
    assert!(body.get("acknowledged_by").is_none(), "{body}");

    // People and groups, with the API's 422s naming the field.
    let (status, _, body) = c
        .call(
            Method::PUT,
            &v1("people/zhangsan"),
            &with,
            Some(json!({"name": "Zhang San", "welink": "zhangsan@welink"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = c
        .call(
            Method::PUT,
            &v1("people/lisi"),
            &with,
            Some(json!({"welink": " "})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "welink");
    let (status, _, body) = c
        .call(
            Method::PUT,
            &v1("groups/oncall"),
            &with,
            Some(json!({"members": ["zhangsan", "ghost"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "members[1]");
    let (status, _, body) = c
        .call(
            Method::PUT,
            &v1("groups/oncall"),
            &with,
            Some(json!({"members": ["zhangsan"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (path, key) in [
        ("people", "people"),
        ("groups", "groups"),
        ("people/zhangsan", "welink"),
        ("groups/oncall", "members"),
    ] {
        let (status, _, body) = c.call(Method::GET, &v1(path), &with, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(!body[key].is_null(), "{path}: {body}");
    }
    let (status, _, _) = c
        .call(Method::DELETE, &v1("people/zhangsan"), &with, None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "still in a group");
    for path in ["groups/oncall", "people/zhangsan"] {
        let (status, _, body) = c.call(Method::DELETE, &v1(path), &with, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}: {body}");
    }

    // Alerts: the key travels percent-encoded, `/` and all, as one segment.
    let (status, _, body) = c
        .call(Method::GET, &v1("alerts?status=firing"), &with, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alerts"][0]["key"], "disk/db-3");
    assert_eq!(body["alerts"][0]["suppressed"], 1);
    let (status, _, body) = c
        .call(Method::GET, &v1("alerts/disk%2Fdb-3"), &with, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["messages"][0]["suppressed_into"], json!(ids[0]));

    // Acknowledge, as the name the page asks for.
    let (status, _, body) = c
        .call(
            Method::POST,
            &v1(&format!("messages/{}/ack", ids[0])),
            &with,
            Some(json!({"by": "ops on call"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acknowledged_by"], "ops on call");
    let (_, _, body) = c
        .call(
            Method::GET,
            &v1(&format!("messages/{}", ids[0])),
            &with,
            None,
        )
        .await;
    assert_eq!(body["acknowledged_by"], "ops on call");

    // Around them, nothing else: no writes to lists, alerts or other verbs.
    for (method, path) in [
        (Method::PUT, "people"),
        (Method::DELETE, "groups"),
        (Method::POST, "people/zhangsan"),
        (Method::PUT, "alerts/disk%2Fdb-3"),
        (Method::DELETE, "messages/m1"),
        (Method::PUT, "people/a/b"),
    ] {
        let (status, _, _) = c
            .call(method.clone(), &v1(path), &with, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    c.stop().await;
}
