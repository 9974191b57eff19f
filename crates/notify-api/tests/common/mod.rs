//! Test harness: a router over a fresh store (a new SQLite file, or a new Postgres schema that
//! is dropped afterwards), a `log` channel named `logch`, and a set of callers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig};
use notify_core::{ChannelKind, ManualClock, Secret};
use notify_store::Store;
use notify_testkit::ScratchStore;
pub use notify_testkit::{Backend, T0};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Tenant t1, scopes send/read/recall.
pub const SENDER: (&str, &str) = ("AK-SEND", "sk-send-secret");
/// Tenant t2, scopes send/read/recall.
pub const OTHER: (&str, &str) = ("AK-OTHER", "sk-other-secret");
/// Tenant t1, read only.
pub const READER: (&str, &str) = ("AK-READ", "sk-read-secret");
/// Admin.
pub const ADMIN: (&str, &str) = ("AK-ADMIN", "sk-admin-secret");
/// Tenant t1, send; rotated: the previous secret still works.
pub const ROTATED: (&str, &str) = ("AK-ROT", "sk-rot-new");
/// The rotated client's previous secret.
pub const ROTATED_OLD: &str = "sk-rot-old";
/// Tenant t1, send/read, connector signing on.
pub const CONNECTOR: (&str, &str) = ("AK-CONN", "sk-conn-secret");
/// Tenant t1, send, 2 requests per second.
pub const LIMITED: (&str, &str) = ("AK-LIM", "sk-lim-secret");

fn client(name: &str, (ak, sk): (&str, &str), tenant: &str, scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        name: name.into(),
        access_key: ak.into(),
        secret_key: Secret::new(sk),
        previous_secret_key: None,
        tenant: tenant.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        max_per_second: 0,
        connector_signing: false,
    }
}

/// The callers every test has.
pub fn clients() -> Vec<ClientConfig> {
    let mut rotated = client("rotated", ROTATED, "t1", &["send", "read"]);
    rotated.previous_secret_key = Some(Secret::new(ROTATED_OLD));
    let mut conn = client("connector", CONNECTOR, "t1", &["send", "read"]);
    conn.connector_signing = true;
    let mut limited = client("limited", LIMITED, "t1", &["send"]);
    limited.max_per_second = 2;
    vec![
        client("sender", SENDER, "t1", &["send", "read", "recall"]),
        client("other", OTHER, "t2", &["send", "read", "recall"]),
        client("reader", READER, "t1", &["read"]),
        client("admin", ADMIN, "t0", &["admin"]),
        rotated,
        conn,
        limited,
    ]
}

/// The default API settings with the test callers.
pub fn config() -> ApiConfig {
    ApiConfig {
        max_body_bytes: 16 * 1024,
        default_ttl_ms: 24 * 3600 * 1000,
        clients: clients(),
        signature_window_ms: 300_000,
        commit_batch_max: 64,
        pause_after_commit: None,
        ..ApiConfig::default()
    }
}

/// A running API over a fresh store.
#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub store: Store,
    pub clock: ManualClock,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// `error.code`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    /// `error.field`.
    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// Sends a request through the router.
    pub async fn call(&self, req: Request<Body>) -> Answer {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// A bearer request as `key`.
    pub async fn bearer(&self, key: (&str, &str), method: &str, path: &str, body: &[u8]) -> Answer {
        self.call(bearer_req(key.1, method, path, body)).await
    }

    /// A signed request as `key` at the store's now.
    pub async fn signed(&self, key: (&str, &str), method: &str, path: &str, body: &[u8]) -> Answer {
        let ts = self.clock_now().to_string();
        self.call(signed_req(key, &ts, method, path, body)).await
    }

    /// POST /v1/messages as the sender with a bearer token.
    pub async fn post(&self, body: &Value) -> Answer {
        self.bearer(SENDER, "POST", "/v1/messages", body.to_string().as_bytes())
            .await
    }

    /// The clock's now.
    pub fn clock_now(&self) -> i64 {
        use notify_core::Clock;
        self.clock.now_ms()
    }
}

/// A bearer request.
pub fn bearer_req(secret: &str, method: &str, path: &str, body: &[u8]) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// A request signed with the gateway scheme.
pub fn signed_req(
    (ak, sk): (&str, &str),
    ts: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Request<Body> {
    let sig = notify_api::auth::signature::sign(sk, ak, ts, method, path, body);
    Request::builder()
        .method(method)
        .uri(path)
        .header("x-access-key", ak)
        .header("x-timestamp", ts)
        .header("x-signature", sig)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// A minimal valid message.
pub fn message(title: &str) -> Value {
    json!({"title": title, "content": "body text", "targets": [{"channel": "logch", "users": ["alice"]}]})
}

/// Runs `body` against a router over a fresh store of `backend` with `config`.
pub async fn with_app_config<F, Fut>(backend: Backend, config: ApiConfig, body: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    let channel = build_channel("logch", &ChannelConfig::of_kind(ChannelKind::Log)).unwrap();
    let state = AppState::new(store.clone(), vec![channel], config, None);
    let app = TestApp {
        router: notify_api::router(state),
        store,
        clock,
    };
    scratch.run(body(app)).await;
}

/// Runs `body` against a router over a fresh store of `backend` with the test callers.
pub async fn with_app<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_app_config(backend, config(), body).await
}

/// Declares one test per backend for each async fn `name(TestApp)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        notify_testkit::on_both_backends!($crate::common::with_app, 2; $($name),+);
    };
}

/// The channels of the sandbox, by the names it gives them (`welink`, `xiaowei`, `workid`,
/// `wecom`, `juzi`, `log`), pointed at a loopback port nobody calls: the API only plans.
pub fn every_channel() -> Vec<notify_channels::ChannelHandle> {
    notify_channels::registry::sandbox_channels("http://127.0.0.1:9")
        .into_iter()
        .map(|(name, c)| build_channel(name, &c).expect("a sandbox channel"))
        .collect()
}

/// Runs `body` against a router with [`every_channel`] over a fresh store of `backend`.
pub async fn with_every_channel<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    let state = AppState::new(store.clone(), every_channel(), config(), None);
    let app = TestApp {
        router: notify_api::router(state),
        store,
        clock,
    };
    scratch.run(body(app)).await;
}

/// Sends (as a worker would) every queued part of the channel's lanes.
pub async fn send_everything(app: &TestApp, channel: &str) {
    for lane in app.store.lanes().lanes().await.unwrap() {
        if lane.info.channel != channel {
            continue;
        }
        let claimed = app
            .store
            .outbox()
            .claim(&lane.info.lane, "w", 100, 30_000)
            .await
            .unwrap();
        let done: Vec<notify_store::Completion> = claimed
            .iter()
            .map(|p| notify_store::Completion {
                part_id: p.id.clone(),
                lease_token: p.lease_token.clone(),
                result: notify_store::PartResult::Done {
                    upstream_id: Some(format!("item-{}", p.id)),
                    failed_recipients: vec![],
                },
                attempt: None,
            })
            .collect();
        app.store.outbox().complete(&done).await.unwrap();
    }
}
