//! End to end through the real pieces: messages enter through the API (`notify_api::router`
//! served on a loopback port), wait in the store, are sent by the dispatcher through the real
//! adapters to the upstream simulator, and recalls and state updates go back the same way.
//!
//! The dispatcher is driven with `run_once` (one claimed batch per lane, no sleeping) or, where
//! concurrency is the point, by executing claimed parts side by side; the store runs on a
//! `ManualClock` so back-offs and token lifetimes pass without waiting. The simulator is
//! steered through its `/_sim` control API (faults, token revocation, clock, modes, apps).

use std::collections::HashMap;
use std::sync::Arc;

use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, Clock, ManualClock, Secret, SystemClock};
use notify_dispatch::{DispatchConfig, Dispatcher, FetchPolicy};
use notify_simulator::Simulator;
use notify_store::{DeliveryView, MessageView, Store};
use notify_testkit::{Backend, ScratchStore};
use serde_json::{json, Value};

const ADMIN_KEY: &str = "sk-e2e-admin";
const SENDER_KEY: &str = "sk-e2e-sender";
/// Past the largest back-off step (600 s).
const PAST_BACKOFF_MS: i64 = 600_001;

/// A 1×1 PNG: the guarded fetcher downloads it for WeCom image uploads.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// The API, store, dispatcher and simulator of one test.
struct Env {
    sim: Simulator,
    sim_base: String,
    api_base: String,
    media_url: String,
    http: reqwest::Client,
    store: Store,
    clock: ManualClock,
    dispatcher: Dispatcher,
    scratch: ScratchStore,
}

fn channel_configs(sim: &str) -> Vec<(&'static str, ChannelConfig)> {
    let welink = |client_id: &str, secret: &str| {
        let mut c = ChannelConfig::of_kind(ChannelKind::Welink);
        c.base_url = Some(format!("{sim}/api"));
        c.client_id = Some(client_id.into());
        c.client_secret = Some(Secret::new(secret));
        c.owner = Some("Monitoring".into());
        c
    };
    let mut xiaowei = welink("e2e-xiaowei", "xiaowei-secret");
    xiaowei.kind = ChannelKind::Xiaowei;
    xiaowei.owner = None;
    let mut wecom = ChannelConfig::of_kind(ChannelKind::WecomApp);
    wecom.base_url = Some(sim.to_string());
    wecom.corp_id = Some("wwe2ecorp".into());
    wecom.corp_secret = Some(Secret::new("wecom-secret"));
    wecom.agent_id = Some(1000002);
    let mut workid = ChannelConfig::of_kind(ChannelKind::WecomWorkid);
    workid.base_url = Some(sim.to_string());
    workid.token_url = Some(format!("{sim}/oauth/token"));
    workid.client_id = Some("e2e-workid".into());
    workid.client_secret = Some(Secret::new("workid-secret"));
    workid.company_id = Some("corp001".into());
    let mut juzi = ChannelConfig::of_kind(ChannelKind::Juzi);
    juzi.base_url = Some(sim.to_string());
    vec![
        ("welink", welink("e2e-welink", "welink-secret")),
        // Registered in the simulator with another secret: its token fetch answers 10007.
        ("welink_locked", welink("e2e-locked", "wrong-secret")),
        ("xiaowei", xiaowei),
        ("wecom", wecom),
        ("workid", workid),
        ("juzi", juzi),
    ]
}

fn client(name: &str, key: &str, tenant: &str, scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        name: name.into(),
        access_key: format!("AK-{name}"),
        secret_key: Secret::new(key),
        previous_secret_key: None,
        tenant: tenant.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        max_per_second: 0,
        connector_signing: false,
    }
}

/// Serves `body` to every GET: a stand-in for the file server images are fetched from.
async fn media_server(body: &'static [u8]) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

impl Env {
    async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    async fn start_with(backend: Backend, tweak: impl FnOnce(&mut DispatchConfig)) -> Self {
        Self::start_full(backend, tweak, |_| Vec::new()).await
    }

    /// With channels beyond the usual ones, configured from the simulator's base URL.
    async fn start_full(
        backend: Backend,
        tweak: impl FnOnce(&mut DispatchConfig),
        extra_channels: impl FnOnce(&str) -> Vec<(&'static str, ChannelConfig)>,
    ) -> Self {
        let sim = Simulator::new();
        let sim_addr = sim.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let sim_base = format!("http://{sim_addr}");
        let media_addr = media_server(PNG).await;
        let media_url = format!("http://{media_addr}/alert.png");

        let clock = ManualClock::new(SystemClock.now_ms());
        let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
        let store = scratch.store.clone();

        let channels: Vec<ChannelHandle> = channel_configs(&sim_base)
            .into_iter()
            .chain(extra_channels(&sim_base))
            .collect::<Vec<_>>()
            .iter()
            .map(|(name, c)| build_channel(name, c).unwrap())
            .collect();
        let mut config = DispatchConfig {
            fetch: FetchPolicy {
                exempt: vec![media_addr],
                ..FetchPolicy::default()
            },
            ..DispatchConfig::default()
        };
        tweak(&mut config);
        let dispatcher = Dispatcher::new(store.clone(), channels.clone(), config).unwrap();

        let api = ApiConfig {
            max_body_bytes: 1 << 20,
            clients: vec![
                client("admin", ADMIN_KEY, "ops", &["admin"]),
                client("sender", SENDER_KEY, "t1", &["send", "read", "recall"]),
            ],
            ..ApiConfig::default()
        };
        let state = AppState::new(store.clone(), channels, api, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, notify_api::router(state)).await;
        });

        let env = Self {
            sim,
            sim_base,
            api_base,
            media_url,
            http: reqwest::Client::new(),
            store,
            clock,
            dispatcher,
            scratch,
        };
        // Concurrency tests make more calls per second than WeLink's 40/s; the simulator's
        // caps are not what these tests are about (the dispatcher's limiters are tested alone).
        env.sim_post(
            "/_sim/caps",
            json!({"per_second": 100000, "per_minute": 1000000, "per_ip_20s": 1000000}),
        )
        .await;
        env.sim_post(
            "/_sim/apps",
            json!({"kind": "welink", "client_id": "e2e-locked", "client_secret": "right-secret"}),
        )
        .await;
        env
    }

    async fn finish(self) {
        self.scratch.remove().await;
    }

    // --- the simulator -------------------------------------------------------------------

    async fn sim_post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.sim_base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// The recorded calls on `path`, oldest first.
    fn calls(&self, path: &str) -> Vec<notify_simulator::RecordedCall> {
        self.sim
            .calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    /// WeLink token fetches made with `client_id`.
    fn welink_token_calls(&self, client_id: &str) -> usize {
        self.calls("/api/auth/v2/tickets")
            .iter()
            .filter(|c| c.body["client_id"] == client_id)
            .count()
    }

    async fn fault(&self, path: &str, fault: Value) {
        let mut f = fault;
        f["path"] = path.into();
        self.sim_post("/_sim/faults", f).await;
    }

    // --- the API -------------------------------------------------------------------------

    async fn api(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.api_base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Posts a message as the sender; returns its id.
    async fn send(&self, message: Value) -> String {
        let (status, body) = self
            .api(SENDER_KEY, "POST", "/v1/messages", Some(message))
            .await;
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn recall(&self, id: &str) -> Value {
        let (status, body) = self
            .api(
                SENDER_KEY,
                "POST",
                &format!("/v1/messages/{id}/recall"),
                None,
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body
    }

    /// The action answer's delivery on `channel`.
    fn action_on<'a>(answer: &'a Value, channel: &str) -> &'a Value {
        answer["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel"] == channel)
            .unwrap_or_else(|| panic!("no {channel} delivery in {answer}"))
    }

    // --- the store and the dispatcher ------------------------------------------------------

    async fn message(&self, id: &str) -> MessageView {
        self.store
            .reads()
            .get_message(None, id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn delivery(&self, id: &str, channel: &str) -> DeliveryView {
        self.message(id)
            .await
            .deliveries
            .into_iter()
            .find(|d| d.channel == channel)
            .unwrap()
    }

    /// One dispatcher round; returns the parts completed.
    async fn round(&self) -> usize {
        self.dispatcher.run_once().await.unwrap().completed
    }

    /// Rounds until one completes nothing (a dependent part queued by a round is sent by the
    /// next one).
    async fn drain(&self) {
        for _ in 0..50 {
            if self.round().await == 0 {
                return;
            }
        }
        panic!("the outbox did not drain in 50 rounds");
    }

    /// Claims every queued part of `channel`'s lane on `interface` and executes them all at
    /// once through the dispatcher, then writes their completions: as many deliveries in
    /// flight together as there are parts.
    async fn execute_concurrently(&self, channel: &str, interface: &str) -> usize {
        let lane = self
            .store
            .lanes()
            .lanes()
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.info.channel == channel && l.info.interface == interface)
            .expect("the lane exists")
            .info
            .lane;
        let parts = self
            .store
            .outbox()
            .claim(&lane, self.dispatcher.replica_id(), 1000, 60_000)
            .await
            .unwrap();
        let done =
            futures_util::future::join_all(parts.iter().map(|p| self.dispatcher.execute(p))).await;
        let completions: Vec<_> = done.into_iter().map(|(c, _)| c).collect();
        let applied = self.store.outbox().complete(&completions).await.unwrap();
        assert!(applied.iter().all(|a| *a));
        completions.len()
    }
}

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

// --- tokens ------------------------------------------------------------------------------

/// 50 deliveries in flight together find no token, then a stale one, then a revoked one: each
/// time exactly one token is fetched, by this process (`fetch_count`) and at the upstream.
async fn one_token_refresh_under_50_concurrent_deliveries(backend: Backend) {
    let env = Env::start(backend).await;
    let card = "/messages/v2/card/common";
    let mut expected_fetches = 0;
    for (round, step) in ["no token yet", "token due for refresh", "token revoked"]
        .iter()
        .enumerate()
    {
        match round {
            // WeLink tokens live 7200 s and are refreshed 300 s ahead.
            1 => env.clock.advance_ms((7200 - 300) * 1000 + 1_000),
            2 => {
                env.sim_post("/_sim/tokens/revoke", json!({"client_id": "e2e-welink"}))
                    .await;
            }
            _ => {}
        }
        let ids = futures_util::future::join_all((0..50).map(|i| {
            env.send(
                json!({"title": format!("{step} {i}"), "content": "token test",
                "targets": [{"channel": "welink", "users": [format!("user{round}-{i}")]}]}),
            )
        }))
        .await;
        assert_eq!(env.execute_concurrently("welink", card).await, 50, "{step}");
        expected_fetches += 1;
        assert_eq!(
            env.dispatcher.tokens().fetch_count(),
            expected_fetches,
            "{step}: one fetch for 50 concurrent deliveries"
        );
        assert_eq!(
            env.welink_token_calls("e2e-welink"),
            expected_fetches as usize,
            "{step}: one token call upstream"
        );
        for id in &ids {
            let m = env.message(id).await;
            assert_eq!(m.status, "sent", "{step}: {m:?}");
        }
    }
    // After the revocation every delivery met code 1000 once and was retried with the new
    // token within the same attempt.
    let calls = env.calls("/api/messages/v2/card/common");
    let refused = calls.iter().filter(|c| c.answer["code"] == "1000").count();
    assert!((1..=50).contains(&refused), "{refused} calls refused");
    assert_eq!(
        calls.len(),
        150 + refused,
        "each refused call was made once more, and only those"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_refresh_under_50_concurrent_deliveries_sqlite() {
    one_token_refresh_under_50_concurrent_deliveries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_refresh_under_50_concurrent_deliveries_postgres() {
    one_token_refresh_under_50_concurrent_deliveries(Backend::Postgres).await;
}

// --- chunking ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welink_chunks_resume_after_a_fault_on_the_second_call() {
    // One part per round, so the fault can be placed on the second call.
    let env = Env::start_with(Backend::Sqlite, |c| c.claim_batch = 1).await;
    let all = users("chunk", 2500);
    let id = env
        .send(json!({"title": "Disk full", "content": "db-3 /var at 97%",
            "targets": [{"channel": "welink", "users": all}]}))
        .await;
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.parts.len(), 3, "2,500 users are 3 calls of at most 1,000");

    assert_eq!(env.round().await, 1);
    env.fault(
        "/api/messages/v2/card/common",
        json!({"kind": "code", "code": "51078", "count": 1}),
    )
    .await;
    assert_eq!(env.round().await, 1);
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.status, "queued", "one call is waiting for its retry");
    for _ in 0..10 {
        if env.message(&id).await.status == "sent" {
            break;
        }
        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.round().await;
    }
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.status, "sent", "{d:?}");
    assert_eq!(d.upstream_ids.len(), 3);

    // Calls per chunk, by the chunk's first user.
    let calls = env.calls("/api/messages/v2/card/common");
    let mut per_chunk: HashMap<String, Vec<u16>> = HashMap::new();
    for c in &calls {
        let first = c.body["toUserList"][0].as_str().unwrap().to_string();
        per_chunk
            .entry(first)
            .or_default()
            .push(c.answer["code"].as_str().unwrap_or("").parse().unwrap_or(0));
    }
    assert_eq!(per_chunk.len(), 3, "{per_chunk:?}");
    let first_chunk = calls[0].body["toUserList"][0].as_str().unwrap();
    assert_eq!(
        per_chunk[first_chunk],
        vec![0],
        "the first chunk is sent once, never again"
    );
    let faulted = calls[1].body["toUserList"][0].as_str().unwrap();
    assert_ne!(faulted, first_chunk);
    assert_eq!(
        per_chunk[faulted],
        vec![51078, 0],
        "the faulted chunk is retried once"
    );
    assert_eq!(calls.len(), 4);
    let sizes: Vec<usize> = d.parts.iter().map(|p| p.recipients.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 2500);
    assert!(sizes.iter().all(|n| *n <= 1000));
    env.finish().await;
}

// --- error classes -----------------------------------------------------------------------

/// A text message to one recipient of `channel`.
fn to(channel: &str, title: &str) -> Value {
    let target = match channel {
        "workid" => json!({"channel": channel, "work_ids": ["W0001"]}),
        "juzi" => json!({"channel": channel, "chat_id": "room-1"}),
        _ => json!({"channel": channel, "users": ["zhangsan"]}),
    };
    json!({"title": title, "content": "error class test", "targets": [target]})
}

/// The send path of each server-side kind in the simulator.
const SEND_PATHS: [(&str, &str); 4] = [
    ("welink", "/api/messages/v2/card/common"),
    ("xiaowei", "/api/athenaservice/v1/contextaware/push"),
    ("wecom", "/cgi-bin/message/send"),
    ("workid", "/integration/wx_work/sendByWorkIds"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_on_every_kind() {
    let env = Env::start(Backend::Sqlite).await;
    let faults = [
        json!({"kind": "code", "code": "51078"}),
        json!({"kind": "code", "code": "58500"}),
        json!({"kind": "code", "code": -1}),
        json!({"kind": "http_status", "http_status": 503}),
    ];
    for ((channel, path), fault) in SEND_PATHS.iter().zip(faults) {
        let id = env.send(to(channel, "transient")).await;
        let mut f = fault.clone();
        f["count"] = 1.into();
        env.fault(path, f).await;
        env.round().await;
        let d = env.delivery(&id, channel).await;
        assert_eq!(d.status, "queued", "{channel}: {d:?}");
        assert_eq!(
            d.parts[0].attempts, 1,
            "{channel}: the failed try spent an attempt"
        );
        assert_eq!(
            d.attempts[0].outcome, "transient",
            "{channel}: {:?}",
            d.attempts
        );
        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.round().await;
        let d = env.delivery(&id, channel).await;
        assert_eq!(d.status, "sent", "{channel}: {d:?}");
        assert_eq!(env.calls(path).len(), 2, "{channel}");
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_fail_with_the_reason() {
    let env = Env::start(Backend::Sqlite).await;
    let cases = [
        ("welink", "51062", "51062"),
        ("xiaowei", "58601", "58601"),
        // WeCom 60020: the message must name the fix, not just the code.
        ("wecom", "60020", "trusted IP"),
        ("workid", "400", "400"),
    ];
    for ((channel, path), (_, code, reason)) in SEND_PATHS.iter().zip(cases) {
        let id = env.send(to(channel, "permanent")).await;
        let code_value: Value = if *channel == "welink" || *channel == "xiaowei" {
            code.into()
        } else {
            code.parse::<i64>().unwrap().into()
        };
        env.fault(
            path,
            json!({"kind": "code", "code": code_value, "count": 1}),
        )
        .await;
        env.round().await;
        let d = env.delivery(&id, channel).await;
        assert_eq!(d.status, "failed", "{channel}: {d:?}");
        let error = d.last_error.clone().unwrap_or_default();
        assert!(error.contains(reason), "{channel}: {error}");
        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.round().await;
        assert_eq!(env.calls(path).len(), 1, "{channel}: not retried");
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_requeue_without_spending_an_attempt() {
    let env = Env::start(Backend::Sqlite).await;
    let cases = [
        ("welink", json!("48503")),
        ("xiaowei", json!("58602")),
        ("wecom", json!(45009)),
    ];
    for ((channel, path), (_, code)) in SEND_PATHS.iter().zip(cases) {
        let id = env.send(to(channel, "rate limited")).await;
        env.fault(path, json!({"kind": "code", "code": code, "count": 1}))
            .await;
        env.round().await;
        let d = env.delivery(&id, channel).await;
        assert_eq!(d.status, "queued", "{channel}: {d:?}");
        assert_eq!(d.parts[0].attempts, 0, "{channel}: no attempt spent");
        assert_eq!(d.attempts[0].outcome, "rate_limited", "{channel}");
        assert!(
            d.parts[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains(code.to_string().trim_matches('"')),
            "{channel}: {:?}",
            d.parts[0].last_error
        );
        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.round().await;
        let d = env.delivery(&id, channel).await;
        assert_eq!(d.status, "sent", "{channel}: {d:?}");
        assert_eq!(d.parts[0].attempts, 1, "{channel}");
    }
    env.finish().await;
}

/// A rate-limit answer to a token fetch is the rate limit it is, not a failed attempt: the part
/// goes back to the queue without spending one, and the lane pauses, so the next part of the
/// lane makes no call (no second fetch into the limit) until the pause is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_token_fetch_pauses_the_lane_and_spends_no_attempt() {
    // A Xiaowei channel of the welink channel's app: another lane, the same token.
    let env = Env::start_full(
        Backend::Sqlite,
        |_| {},
        |sim| {
            let mut c = ChannelConfig::of_kind(ChannelKind::Xiaowei);
            c.base_url = Some(format!("{sim}/api"));
            c.client_id = Some("e2e-welink".into());
            c.client_secret = Some(Secret::new("welink-secret"));
            vec![("xw_same_app", c)]
        },
    )
    .await;
    let cases = [
        (
            "welink",
            "/api/auth/v2/tickets",
            json!({"kind": "code", "code": "48503"}),
        ),
        (
            "wecom",
            "/cgi-bin/gettoken",
            json!({"kind": "code", "code": 45009}),
        ),
        (
            "workid",
            "/oauth/token",
            json!({"kind": "http_status", "http_status": 429}),
        ),
    ];
    for (channel, token_path, fault) in cases {
        let first = env.send(to(channel, "token rate limited")).await;
        let mut f = fault.clone();
        f["count"] = 1.into();
        env.fault(token_path, f).await;
        env.round().await;
        let d = env.delivery(&first, channel).await;
        assert_eq!(d.status, "queued", "{channel}: {d:?}");
        assert_eq!(d.parts[0].attempts, 0, "{channel}: no attempt spent");
        let error = d.parts[0].last_error.clone().unwrap_or_default();
        assert!(
            error.contains("token fetch rate-limited"),
            "{channel}: {error}"
        );
        assert_eq!(env.calls(token_path).len(), 1, "{channel}");
        // The lane is paused: a second message waits without a token fetch or a send.
        let second = env.send(to(channel, "behind the pause")).await;
        env.round().await;
        assert_eq!(
            env.calls(token_path).len(),
            1,
            "{channel}: no fetch into the limit"
        );
        let d = env.delivery(&second, channel).await;
        assert_eq!(d.status, "queued", "{channel}: {d:?}");
        assert_eq!(d.parts[0].attempts, 0, "{channel}");
        let mut ids = vec![(channel, first), (channel, second)];
        if channel == "welink" {
            // Another lane of the credential is not paused, but its token fetches are held:
            // it waits too, without fetching into the limit.
            let other = env.send(to("xw_same_app", "same app")).await;
            env.round().await;
            assert_eq!(
                env.calls(token_path).len(),
                1,
                "no fetch from the other lane"
            );
            let d = env.delivery(&other, "xw_same_app").await;
            assert_eq!(d.status, "queued", "{d:?}");
            assert_eq!(d.parts[0].attempts, 0);
            ids.push(("xw_same_app", other));
        }
        // After the pause they all go, with one token.
        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.drain().await;
        for (channel, id) in &ids {
            let d = env.delivery(id, channel).await;
            assert_eq!(d.status, "sent", "{channel}: {d:?}");
            assert_eq!(d.parts[0].attempts, 1, "{channel}: only the send counted");
        }
        assert_eq!(env.calls(token_path).len(), 2, "{channel}");
    }
    env.finish().await;
}

/// WeCom `-1` (system busy) is retried, at most 3 times; the fourth `-1` fails the delivery
/// with WeCom's message instead of retrying up to the dispatcher's 10 attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_busy_is_retried_three_times_then_failed() {
    let env = Env::start(Backend::Sqlite).await;
    let path = "/cgi-bin/message/send";
    let id = env.send(to("wecom", "busy")).await;
    env.fault(path, json!({"kind": "code", "code": -1, "count": 5}))
        .await;
    for _ in 0..6 {
        env.round().await;
        env.clock.advance_ms(PAST_BACKOFF_MS);
    }
    let d = env.delivery(&id, "wecom").await;
    assert_eq!(d.status, "failed", "{d:?}");
    let error = d.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("-1") && error.contains("3 retries"),
        "{error}"
    );
    assert_eq!(env.calls(path).len(), 4, "one try and 3 retries");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welink_10007_stops_token_fetching_and_shows_in_channels() {
    let env = Env::start(Backend::Sqlite).await;
    let first = env.send(to("welink_locked", "locked 1")).await;
    env.drain().await;
    let second = env.send(to("welink_locked", "locked 2")).await;
    env.drain().await;
    for id in [&first, &second] {
        let d = env.delivery(id, "welink_locked").await;
        assert_eq!(d.status, "failed", "{d:?}");
        assert!(
            d.last_error.as_deref().unwrap_or("").contains("10007"),
            "{:?}",
            d.last_error
        );
    }
    assert_eq!(
        env.welink_token_calls("e2e-locked"),
        1,
        "no second fetch with a rejected credential"
    );
    assert!(env.calls("/api/messages/v2/card/common").is_empty());
    let (status, view) = env.api(ADMIN_KEY, "GET", "/v1/channels", None).await;
    assert_eq!(status, 200);
    let ch = channel_in(&view, "welink_locked");
    assert_eq!(ch["token"]["rejected_code"], "10007", "{ch}");
    assert_eq!(ch["token"]["held"], false);
    env.finish().await;
}

// --- Xiaowei: endDate and the enterprise's quota -------------------------------------------

/// A push scheduled 10 days ahead gets its `endDate` when it is sent: the expiry's day (within
/// 7 days of the send), not a date bounded at ingress, which upstream refuses as past (58601,
/// with the day's quota slot spent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_xiaowei_push_scheduled_past_seven_days_gets_its_end_date_when_sent() {
    let env = Env::start(Backend::Sqlite).await;
    let day = 24 * 3600 * 1000;
    let now = env.clock.now_ms();
    let expires = now + 12 * day;
    let id = env
        .send(json!({
            "title": "quarterly maintenance",
            "not_before": notify_core::clock::ms_to_rfc3339(now + 10 * day),
            "expires_at": notify_core::clock::ms_to_rfc3339(expires),
            "targets": [{"channel": "xiaowei", "users": ["zhangsan"]}]
        }))
        .await;
    assert_eq!(env.round().await, 0, "not due yet");
    env.clock.advance_ms(10 * day + 1_000);
    env.sim_post("/_sim/clock", json!({"advance_ms": 10 * day + 1_000}))
        .await;
    env.drain().await;
    let d = env.delivery(&id, "xiaowei").await;
    assert_eq!(d.status, "sent", "{d:?}");
    let pushes = env.calls("/api/athenaservice/v1/contextaware/push");
    assert_eq!(pushes.len(), 1);
    // The China day (UTC+8) of the expiry: the UTC date of the time 8 h later.
    let china_day = notify_core::clock::ms_to_rfc3339(expires + 8 * 3600 * 1000);
    assert_eq!(pushes[0].body["endDate"], &china_day[..10]);
    // A schedule after the day of a caller's own endDate cannot be met: 422 naming not_before.
    let now = env.clock.now_ms();
    let (status, body) = env
        .api(
            SENDER_KEY,
            "POST",
            "/v1/messages",
            Some(json!({
                "title": "too late",
                "not_before": notify_core::clock::ms_to_rfc3339(now + 3 * day),
                "expires_at": notify_core::clock::ms_to_rfc3339(now + 5 * day),
                "targets": [{"channel": "xiaowei", "users": ["zhangsan"],
                    "raw": {"titleCn": "too late", "endDate": &china_day[..10]}}]
            })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "not_before", "{body}");
    env.finish().await;
}

/// Two Xiaowei apps (two client_ids) of one enterprise share the enterprise's daily quota.
async fn two_apps_of_one_enterprise_share_its_quota(backend: Backend) {
    let xiaowei = |sim: &str, client_id: &str| {
        let mut c = ChannelConfig::of_kind(ChannelKind::Xiaowei);
        c.base_url = Some(format!("{sim}/api"));
        c.client_id = Some(client_id.into());
        c.client_secret = Some(Secret::new("s"));
        c.enterprise = Some("acme".into());
        c.daily_quota = Some(3);
        c
    };
    let env = Env::start_full(
        backend,
        |_| {},
        |sim| {
            vec![
                ("xw_alerts", xiaowei(sim, "e2e-xw-alerts")),
                ("xw_reminders", xiaowei(sim, "e2e-xw-reminders")),
            ]
        },
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        for channel in ["xw_alerts", "xw_reminders"] {
            ids.push((channel, env.send(to(channel, &format!("push {i}"))).await));
        }
    }
    env.drain().await;
    let mut sent = 0;
    for (channel, id) in &ids {
        let d = env.delivery(id, channel).await;
        match d.status.as_str() {
            "sent" => sent += 1,
            "queued" => assert!(
                d.parts[0]
                    .last_error
                    .as_deref()
                    .unwrap_or("")
                    .contains("next quota day"),
                "{d:?}"
            ),
            other => panic!("{channel}: {other}: {d:?}"),
        }
    }
    assert_eq!(sent, 3, "3 a day for the enterprise, not 3 per app");
    assert_eq!(
        env.calls("/api/athenaservice/v1/contextaware/push").len(),
        3
    );
    let (_, view) = env.api(ADMIN_KEY, "GET", "/v1/channels", None).await;
    for channel in ["xw_alerts", "xw_reminders"] {
        let q = &channel_in(&view, channel)["quota"];
        assert_eq!(q["enterprise"], "acme", "{q}");
        assert_eq!(q["used_today"], 3, "{q}");
        assert_eq!(q["left_today"], 0, "{q}");
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_of_one_enterprise_share_its_quota_sqlite() {
    two_apps_of_one_enterprise_share_its_quota(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_of_one_enterprise_share_its_quota_postgres() {
    two_apps_of_one_enterprise_share_its_quota(Backend::Postgres).await;
}

// --- failed recipients -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welink_non_fans_are_failed_recipients() {
    let env = Env::start(Backend::Sqlite).await;
    // Default mode: the fans get it, the answer lists the non-fans (51019 with an itemId).
    let id = env
        .send(json!({"title": "t", "content": "c",
            "targets": [{"channel": "welink", "users": ["fan1", "nonfan1"]}]}))
        .await;
    env.drain().await;
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.status, "sent", "{d:?}");
    assert_eq!(d.upstream_ids.len(), 1);
    let failed: Vec<&str> = d
        .failed_recipients
        .iter()
        .map(|f| f.recipient.as_str())
        .collect();
    assert_eq!(failed, vec!["nonfan1"]);
    assert_eq!(d.failed_recipients[0].code, "51019");
    assert_eq!(env.calls("/api/messages/v2/card/common").len(), 1);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welink_51019_without_an_item_id_is_sent_again_to_the_others() {
    let env = Env::start(Backend::Sqlite).await;
    env.sim_post("/_sim/modes", json!({"welink_nonfan": "reject_all"}))
        .await;
    let id = env
        .send(json!({"title": "t", "content": "c",
            "targets": [{"channel": "welink", "users": ["fan1", "nonfanA", "fan2"]}]}))
        .await;
    env.drain().await;
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.status, "sent", "{d:?}");
    let calls = env.calls("/api/messages/v2/card/common");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].answer["code"], "51019");
    assert_eq!(calls[1].body["toUserList"], json!(["fan1", "fan2"]));
    assert_eq!(calls[1].answer["code"], "0");
    let failed: Vec<&str> = d
        .failed_recipients
        .iter()
        .map(|f| f.recipient.as_str())
        .collect();
    assert_eq!(failed, vec!["nonfanA"]);
    assert_eq!(d.upstream_ids.len(), 1);
    env.finish().await;
}

// --- WeCom media ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_image_is_uploaded_then_sent_and_40007_uploads_once_more() {
    let env = Env::start(Backend::Sqlite).await;
    let image = json!({"image_url": env.media_url,
        "targets": [{"channel": "wecom", "users": ["zhangsan"]}]});
    let id = env.send(image.clone()).await;
    env.drain().await;
    let d = env.delivery(&id, "wecom").await;
    assert_eq!(d.native_type, "image");
    assert_eq!(d.status, "sent", "{d:?}");
    let uploads = env.calls("/cgi-bin/media/upload");
    let sends = env.calls("/cgi-bin/message/send");
    assert_eq!((uploads.len(), sends.len()), (1, 1));
    let media_id = uploads[0].answer["media_id"].as_str().unwrap();
    assert_eq!(sends[0].body["msgtype"], "image");
    assert_eq!(sends[0].body["image"]["media_id"], media_id);

    // The media id is refused once: one fresh upload, and the send uses the new id.
    env.fault(
        "/cgi-bin/message/send",
        json!({"kind": "code", "code": 40007, "count": 1}),
    )
    .await;
    let id = env.send(image).await;
    env.drain().await;
    let d = env.delivery(&id, "wecom").await;
    assert_eq!(d.status, "sent", "{d:?}");
    let uploads = env.calls("/cgi-bin/media/upload");
    let sends = env.calls("/cgi-bin/message/send");
    assert_eq!((uploads.len(), sends.len()), (3, 3), "one fresh upload");
    assert_eq!(sends[1].answer["errcode"], 40007);
    assert_ne!(uploads[1].answer["media_id"], uploads[2].answer["media_id"]);
    assert_eq!(
        sends[2].body["image"]["media_id"],
        uploads[2].answer["media_id"]
    );
    env.finish().await;
}

// --- recall ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_through_the_api_on_every_channel_kind() {
    let env = Env::start(Backend::Sqlite).await;
    let id = env
        .send(
            json!({"title": "Deploy", "content": "v2.3 is out", "targets": [
                {"channel": "welink", "users": ["zhangsan"]},
                {"channel": "workid", "work_ids": ["W0001"]},
                {"channel": "wecom", "users": ["zhangsan"]},
                {"channel": "xiaowei", "users": ["zhangsan"]},
                {"channel": "juzi", "chat_id": "room-1"},
            ]}),
        )
        .await;
    env.drain().await;
    let m = env.message(&id).await;
    for d in &m.deliveries {
        let expected = if d.channel == "juzi" {
            "awaiting_agent"
        } else {
            "sent"
        };
        assert_eq!(d.status, expected, "{d:?}");
    }

    let answer = env.recall(&id).await;
    for (channel, status) in [
        ("welink", "recalling"),
        ("workid", "recalling"),
        ("wecom", "recalling"),
        ("xiaowei", "not_recallable"),
        ("juzi", "cancelled"),
    ] {
        assert_eq!(
            Env::action_on(&answer, channel)["status"],
            status,
            "{channel}: {answer}"
        );
    }
    env.drain().await;
    let m = env.message(&id).await;
    for (channel, status) in [
        ("welink", "recalled"),
        ("workid", "recalled"),
        ("wecom", "recalled"),
        ("xiaowei", "not_recallable"),
        ("juzi", "cancelled"),
    ] {
        let d = m.deliveries.iter().find(|d| d.channel == channel).unwrap();
        assert_eq!(d.status, status, "{channel}: {d:?}");
    }
    assert_eq!(env.calls("/api/messages/v1/recall").len(), 1);
    assert_eq!(env.calls("/integration/wx_work/recall").len(), 1);
    assert_eq!(env.calls("/cgi-bin/message/recall").len(), 1);
    let wecom_msgid = env.calls("/cgi-bin/message/send")[0].answer["msgid"].clone();
    assert_eq!(
        env.calls("/cgi-bin/message/recall")[0].body["msgid"],
        wecom_msgid
    );

    // Idempotent: asking again changes nothing and queues nothing.
    let again = env.recall(&id).await;
    assert_eq!(Env::action_on(&again, "welink")["status"], "recalled");
    assert_eq!(env.round().await, 0);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wecom_message_older_than_24_h_is_recall_failed_with_the_upstream_reason() {
    let env = Env::start(Backend::Sqlite).await;
    let id = env.send(to("wecom", "old news")).await;
    env.drain().await;
    assert_eq!(env.delivery(&id, "wecom").await.status, "sent");
    env.sim_post("/_sim/clock", json!({"advance_ms": 25 * 3600 * 1000}))
        .await;
    let answer = env.recall(&id).await;
    assert_eq!(Env::action_on(&answer, "wecom")["status"], "recalling");
    env.drain().await;
    let d = env.delivery(&id, "wecom").await;
    assert_eq!(d.status, "recall_failed", "{d:?}");
    let error = d.last_error.unwrap_or_default();
    assert!(error.contains("42052") && error.contains("24 h"), "{error}");
    // 25 h later the WeCom token has expired too (42001): fetched again once, then the recall
    // is refused for its age.
    let recalls = env.calls("/cgi-bin/message/recall");
    let codes: Vec<&Value> = recalls.iter().map(|c| &c.answer["errcode"]).collect();
    assert_eq!(codes, vec![&json!(42001), &json!(42052)]);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_asked_for_during_the_send_follows_when_the_send_ends() {
    let env = Env::start(Backend::Sqlite).await;
    let id = env.send(to("wecom", "in flight")).await;
    // Claim the send as a runner would, so it is `sending` when the recall comes.
    let lane = env
        .store
        .lanes()
        .lanes()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.info.channel == "wecom")
        .unwrap()
        .info
        .lane;
    let parts = env
        .store
        .outbox()
        .claim(&lane, env.dispatcher.replica_id(), 10, 60_000)
        .await
        .unwrap();
    assert_eq!(parts.len(), 1);
    let answer = env.recall(&id).await;
    assert_eq!(Env::action_on(&answer, "wecom")["status"], "recalling");
    let (completion, _) = env.dispatcher.execute(&parts[0]).await;
    env.store.outbox().complete(&[completion]).await.unwrap();
    assert_eq!(env.calls("/cgi-bin/message/send").len(), 1);

    env.drain().await;
    let d = env.delivery(&id, "wecom").await;
    assert_eq!(d.status, "recalled", "{d:?}");
    assert_eq!(env.calls("/cgi-bin/message/recall").len(), 1);
    env.finish().await;
}

// --- card state ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_update_on_a_welink_card_sent_with_a_state() {
    let env = Env::start(Backend::Sqlite).await;
    let id = env
        .send(json!({"title": "Approval", "content": "Expense #12",
            "state": {"zh": "待处理", "en": "pending"},
            "targets": [{"channel": "welink", "users": ["zhangsan", "lisi"]}]}))
        .await;
    let stateless = env.send(to("welink", "no state")).await;
    env.drain().await;
    let item = env.delivery(&id, "welink").await.upstream_ids[0].clone();

    let body = json!({"state": {"zh": "已处理", "en": "processed"}, "state_color": "green"});
    let (status, answer) = env
        .api(
            SENDER_KEY,
            "POST",
            &format!("/v1/messages/{id}/state"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(Env::action_on(&answer, "welink")["accepted"], true);
    let (_, refused) = env
        .api(
            SENDER_KEY,
            "POST",
            &format!("/v1/messages/{stateless}/state"),
            Some(body),
        )
        .await;
    let r = Env::action_on(&refused, "welink");
    assert_eq!(r["accepted"], false);
    assert!(
        r["reason"].as_str().unwrap().contains("without a state"),
        "{r}"
    );

    env.drain().await;
    let updates = env.calls("/api/messages/v1/update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["itemId"], item.as_str());
    assert_eq!(updates[0].body["toUserList"], json!(["zhangsan", "lisi"]));
    assert_eq!(updates[0].body["statusColor"], "2");
    assert_eq!(updates[0].answer["code"], "0", "{:?}", updates[0].answer);
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.status, "sent");
    let state_part = d.parts.iter().find(|p| p.op == "state").unwrap();
    assert_eq!(state_part.status, "done");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_update_of_a_card_sent_in_several_calls_updates_each_call() {
    let env = Env::start(Backend::Sqlite).await;
    let all = users("st", 1500);
    let id = env
        .send(json!({"title": "Approval", "content": "Expense #13",
            "state": {"zh": "待处理", "en": "pending"},
            "targets": [{"channel": "welink", "users": all}]}))
        .await;
    env.drain().await;
    let d = env.delivery(&id, "welink").await;
    assert_eq!(d.upstream_ids.len(), 2);
    let (status, answer) = env
        .api(
            SENDER_KEY,
            "POST",
            &format!("/v1/messages/{id}/state"),
            Some(json!({"state": {"zh": "已处理", "en": "processed"}, "state_color": "gray"})),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        Env::action_on(&answer, "welink")["accepted"],
        true,
        "{answer}"
    );
    env.drain().await;
    let updates = env.calls("/api/messages/v1/update");
    assert_eq!(updates.len(), 2);
    let sends = env.calls("/api/messages/v2/card/common");
    for u in &updates {
        assert_eq!(u.answer["code"], "0", "{:?}", u.answer);
        // Each update names the users of the call whose itemId it carries.
        let send = sends
            .iter()
            .find(|s| {
                s.answer["data"]["itemId"] == u.body["itemId"]
                    || s.answer["itemId"] == u.body["itemId"]
            })
            .expect("the update's itemId is a send's");
        assert_eq!(u.body["toUserList"], send.body["toUserList"]);
    }
    env.finish().await;
}

// --- the admin view of calls against the caps --------------------------------------------

/// One channel of a `GET /v1/channels` answer.
fn channel_in(view: &Value, name: &str) -> Value {
    view["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no channel {name}: {view}"))
}

/// One lane of a channel of a `GET /v1/channels` answer.
fn lane_in(view: &Value, channel: &str, lane: &str) -> Value {
    channel_in(view, channel)["lanes"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["lane"] == lane))
        .cloned()
        .unwrap_or_else(|| panic!("no lane {lane} on {channel}: {view}"))
}

async fn channels_show_calls_in_the_last_minute_against_the_caps(backend: Backend) {
    let env = Env::start(backend).await;
    for i in 0..3 {
        env.send(to("welink", &format!("card {i}"))).await;
    }
    for i in 0..2 {
        env.send(to("xiaowei", &format!("reminder {i}"))).await;
    }
    env.drain().await;
    let card_lane = "welink:e2e-welink|/messages/v2/card/common";
    let (status, view) = env.api(ADMIN_KEY, "GET", "/v1/channels", None).await;
    assert_eq!(status, 200, "{view}");
    let card = lane_in(&view, "welink", card_lane);
    assert_eq!(
        card["calls_last_minute"],
        env.calls("/api/messages/v2/card/common").len(),
        "{card}"
    );
    assert_eq!(card["calls_last_minute"], 3, "{card}");
    assert_eq!(card["cap_per_minute"], 1500, "{card}");
    assert_eq!(card["cap_per_second"], 40, "{card}");
    let xiaowei = channel_in(&view, "xiaowei");
    assert_eq!(xiaowei["quota"]["used_today"], 2, "{xiaowei}");
    assert_eq!(xiaowei["quota"]["left_today"], 98, "{xiaowei}");
    // WeCom app lanes have no per-lane cap to show.
    let wecom_sent = env.send(to("wecom", "app message")).await;
    env.drain().await;
    assert_eq!(env.message(&wecom_sent).await.status, "sent");
    let (_, view) = env.api(ADMIN_KEY, "GET", "/v1/channels", None).await;
    let wecom = lane_in(
        &view,
        "wecom",
        "wecom_app:wwe2ecorp:1000002|/cgi-bin/message/send",
    );
    assert_eq!(wecom["calls_last_minute"], 1, "{wecom}");
    assert_eq!(wecom["cap_per_minute"], Value::Null, "{wecom}");
    // A minute later the calls have left the window.
    env.clock.advance_ms(60_001);
    let (_, view) = env.api(ADMIN_KEY, "GET", "/v1/channels", None).await;
    assert_eq!(
        lane_in(&view, "welink", card_lane)["calls_last_minute"],
        0,
        "{view}"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_show_calls_in_the_last_minute_against_the_caps_sqlite() {
    channels_show_calls_in_the_last_minute_against_the_caps(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_show_calls_in_the_last_minute_against_the_caps_postgres() {
    channels_show_calls_in_the_last_minute_against_the_caps(Backend::Postgres).await;
}

// --- secrets -------------------------------------------------------------------------------

/// Log lines written on this test's thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<parking_lot::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The token path of each server-side kind in the simulator (aligned with `SEND_PATHS`).
const TOKEN_PATHS: [&str; 4] = [
    "/api/auth/v2/tickets",
    "/api/auth/v2/tickets",
    "/cgi-bin/gettoken",
    "/oauth/token",
];

/// A connection reset on each kind's token fetch and then on its send: the errors are kept
/// (they say what failed and where), but no channel secret and no token is in an answer of
/// the API, a row of the database or a log line. reqwest's own error text names the URL with
/// its query — WeCom's `corpsecret=` and `access_token=` — so it must never be kept as is.
///
/// Current-thread runtime: the API, the simulator and the dispatcher all run on this thread,
/// so a thread-local subscriber sees every log line (at trace, dependencies included).
#[tokio::test(flavor = "current_thread")]
async fn connection_resets_leave_no_secret_in_answers_rows_or_logs() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let env = Env::start(Backend::Sqlite).await;
    let mut ids = Vec::new();
    for ((channel, send_path), token_path) in SEND_PATHS.iter().zip(TOKEN_PATHS) {
        env.fault(token_path, json!({"kind": "reset", "count": 1}))
            .await;
        let id = env.send(to(channel, "secrets")).await;
        env.round().await;
        let d = env.delivery(&id, channel).await;
        assert_eq!(d.status, "queued", "{channel}: {d:?}");
        let error = d.parts[0].last_error.clone().unwrap_or_default();
        assert!(
            error.contains(token_path),
            "{channel}: the token fetch's error names its endpoint: {error}"
        );

        env.fault(send_path, json!({"kind": "reset", "count": 1}))
            .await;
        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.round().await;
        let d = env.delivery(&id, channel).await;
        let sent_once = d
            .attempts
            .iter()
            .filter_map(|a| a.upstream_message.as_deref())
            .any(|m| m.contains(send_path));
        assert!(sent_once, "{channel}: the send's reset is recorded: {d:?}");

        env.clock.advance_ms(PAST_BACKOFF_MS);
        env.round().await;
        assert_eq!(env.delivery(&id, channel).await.status, "sent", "{channel}");
        ids.push(id);
    }

    let secrets = [
        "welink-secret",
        "xiaowei-secret",
        "wecom-secret",
        "workid-secret",
    ];
    let tokens: Vec<String> = env
        .sim
        .calls()
        .iter()
        .filter(|c| TOKEN_PATHS.contains(&c.path.as_str()))
        .filter_map(|c| c.answer["access_token"].as_str().map(str::to_string))
        .collect();
    assert_eq!(tokens.len(), 4, "one token per credential");

    // What callers read.
    let mut answered = String::new();
    for id in &ids {
        let (_, m) = env
            .api(SENDER_KEY, "GET", &format!("/v1/messages/{id}"), None)
            .await;
        answered.push_str(&m.to_string());
    }
    let (_, channels) = env.api(ADMIN_KEY, "GET", "/v1/channels", None).await;
    answered.push_str(&channels.to_string());
    // Every row as the store reads it (tokens are only in the `tokens` table, which is for them).
    let mut rows = String::new();
    for id in &ids {
        rows.push_str(&format!("{:?}", env.message(id).await));
    }
    // Every byte of the database: no secret in any row of any table.
    let file = env.store.url().trim_start_matches("sqlite://").to_string();
    let mut database = Vec::new();
    for ext in ["", "-wal"] {
        database.extend(std::fs::read(format!("{file}{ext}")).unwrap_or_default());
    }
    assert!(database.len() > 4096, "the database file {file} was read");
    let logged = String::from_utf8_lossy(&logs.0.lock()).to_string();
    assert!(
        logged.contains("upstream call got no answer"),
        "the log was captured"
    );

    for secret in secrets.iter().map(|s| s.to_string()).chain(tokens) {
        assert!(!answered.contains(&secret), "{secret} answered: {answered}");
        assert!(!rows.contains(&secret), "{secret} stored: {rows}");
        assert!(!logged.contains(&secret), "{secret} logged");
    }
    for secret in secrets {
        assert!(
            !database
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{secret} is in the database file"
        );
    }
    env.finish().await;
}
