//! Fallback end to end (contract §7): messages naming directory people enter through the API,
//! the dispatcher sends them through the real adapters to the upstream simulator, whose faults
//! force the answers, and the fallback loop (`notify_api::background::fallback::pass`) adds the
//! fallback delivery, which the dispatcher sends in turn. A permanent refusal, Xiaowei's spent
//! quota and refused directory people fall back; a 48503 storm and an unknown outcome do not.

use std::sync::Arc;

use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, Clock, ManualClock, Secret, SystemClock};
use notify_dispatch::{DispatchConfig, Dispatcher};
use notify_simulator::Simulator;
use notify_store::{MessageView, Store};
use notify_testkit::{Backend, ScratchStore};
use serde_json::{json, Value};

const ADMIN_KEY: &str = "sk-fb-admin";
const SENDER_KEY: &str = "sk-fb-sender";
/// Past the largest back-off step (600 s).
const PAST_BACKOFF_MS: i64 = 600_001;
const WELINK_SEND: &str = "/api/messages/v2/card/common";
const XIAOWEI_PUSH: &str = "/api/athenaservice/v1/contextaware/push";
const WORKID_SEND: &str = "/integration/wx_work/sendByWorkIds";

struct Env {
    sim: Simulator,
    sim_base: String,
    api_base: String,
    http: reqwest::Client,
    store: Store,
    clock: ManualClock,
    dispatcher: Dispatcher,
    state: AppState,
    scratch: ScratchStore,
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

fn channels(sim: &str) -> Vec<ChannelHandle> {
    let mut welink = ChannelConfig::of_kind(ChannelKind::Welink);
    welink.base_url = Some(format!("{sim}/api"));
    welink.client_id = Some("fb-welink".into());
    welink.client_secret = Some(Secret::new("welink-secret"));
    welink.owner = Some("Monitoring".into());
    let mut xiaowei = welink.clone();
    xiaowei.kind = ChannelKind::Xiaowei;
    xiaowei.client_id = Some("fb-xiaowei".into());
    xiaowei.owner = None;
    let mut workid = ChannelConfig::of_kind(ChannelKind::WecomWorkid);
    workid.base_url = Some(sim.to_string());
    workid.token_url = Some(format!("{sim}/oauth/token"));
    workid.client_id = Some("fb-workid".into());
    workid.client_secret = Some(Secret::new("workid-secret"));
    workid.company_id = Some("corp001".into());
    [("welink", welink), ("xiaowei", xiaowei), ("workid", workid)]
        .iter()
        .map(|(name, c)| build_channel(name, c).unwrap())
        .collect()
}

impl Env {
    async fn start(backend: Backend) -> Self {
        let sim = Simulator::new();
        let sim_addr = sim.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let sim_base = format!("http://{sim_addr}");
        let clock = ManualClock::new(SystemClock.now_ms());
        let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
        let store = scratch.store.clone();
        let channels = channels(&sim_base);
        let dispatcher =
            Dispatcher::new(store.clone(), channels.clone(), DispatchConfig::default()).unwrap();
        let api = ApiConfig {
            max_body_bytes: 1 << 20,
            clients: vec![
                client("admin", ADMIN_KEY, "t1", &["admin"]),
                client("sender", SENDER_KEY, "t1", &["send", "read"]),
            ],
            ..ApiConfig::default()
        };
        let state = AppState::new(store.clone(), channels, api, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_base = format!("http://{}", listener.local_addr().unwrap());
        let router = notify_api::router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let env = Self {
            sim,
            sim_base,
            api_base,
            http: reqwest::Client::new(),
            store,
            clock,
            dispatcher,
            state,
            scratch,
        };
        // zhangsan is a WeLink fan; lisi (WeLink id `nonfan1`) is not, so WeLink refuses them.
        env.put(
            "/v1/people/zhangsan",
            json!({"welink": "fan1", "workid": "W0001"}),
        )
        .await;
        env.put(
            "/v1/people/lisi",
            json!({"welink": "nonfan1", "workid": "W0002"}),
        )
        .await;
        env.put("/v1/groups/dba", json!({"members": ["zhangsan", "lisi"]}))
            .await;
        env
    }

    async fn finish(self) {
        self.scratch.remove().await;
    }

    async fn put(&self, path: &str, body: Value) {
        let r = self
            .http
            .put(format!("{}{path}", self.api_base))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    async fn fault(&self, path: &str, fault: Value) {
        let mut f = fault;
        f["path"] = path.into();
        let r = self
            .http
            .post(format!("{}/_sim/faults", self.sim_base))
            .json(&f)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn send(&self, message: Value) -> String {
        let r = self
            .http
            .post(format!("{}/v1/messages", self.api_base))
            .bearer_auth(SENDER_KEY)
            .json(&message)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn message(&self, id: &str) -> MessageView {
        self.store
            .reads()
            .get_message(None, id)
            .await
            .unwrap()
            .unwrap()
    }

    /// Dispatcher rounds until one completes nothing.
    async fn drain(&self) {
        for _ in 0..50 {
            if self.dispatcher.run_once().await.unwrap().completed == 0 {
                return;
            }
        }
        panic!("the outbox did not drain in 50 rounds");
    }

    /// One pass of the fallback loop: how many fallbacks it handled.
    async fn fallbacks(&self) -> usize {
        notify_api::background::fallback::pass(&self.state)
            .await
            .unwrap()
    }

    /// The work IDs each call to the work-ID platform was made for.
    fn workid_calls(&self) -> Vec<Value> {
        self.sim
            .calls()
            .into_iter()
            .filter(|c| c.path == WORKID_SEND)
            .map(|c| c.body)
            .collect()
    }
}

fn to_dba(channel: &str) -> Value {
    json!({"title": "Disk almost full", "content": "db-3 /var at 95%",
        "targets": [{"channel": channel, "groups": ["dba"], "fallback": {"channel": "workid"}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_falls_back_to_the_same_people_by_work_id() {
    let env = Env::start(Backend::Sqlite).await;
    let id = env.send(to_dba("welink")).await;
    env.fault(
        WELINK_SEND,
        json!({"kind": "code", "code": "51062", "count": 1}),
    )
    .await;
    env.drain().await;
    let m = env.message(&id).await;
    assert_eq!(m.deliveries[0].status, "failed", "{m:?}");
    assert_eq!(m.status, "accepted", "waiting for its fallback");
    assert_eq!(env.fallbacks().await, 1);
    env.drain().await;
    let m = env.message(&id).await;
    assert_eq!(m.deliveries.len(), 2);
    let fb = &m.deliveries[1];
    assert_eq!(fb.channel, "workid");
    assert_eq!(fb.fallback_of.as_deref(), Some(m.deliveries[0].id.as_str()));
    assert_eq!(fb.status, "sent", "{fb:?}");
    assert_eq!(
        m.status, "sent",
        "the fallback stands in for the failed delivery"
    );
    let calls = env.workid_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].to_string().contains("W0001") && calls[0].to_string().contains("W0002"));
    assert_eq!(env.fallbacks().await, 0, "once");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xiaowei_quota_spent_before_the_deadline_falls_back() {
    let env = Env::start(Backend::Sqlite).await;
    // A minute to live: the next quota day is later, so the spent quota expires the push.
    let mut message = to_dba("xiaowei");
    message["expires_at"] = notify_core::clock::ms_to_rfc3339(env.clock.now_ms() + 60_000).into();
    let id = env.send(message).await;
    env.fault(
        XIAOWEI_PUSH,
        json!({"kind": "code", "code": "58604", "count": 1}),
    )
    .await;
    env.drain().await;
    let m = env.message(&id).await;
    assert_eq!(m.deliveries[0].status, "expired", "{m:?}");
    assert_eq!(env.fallbacks().await, 1);
    env.drain().await;
    let m = env.message(&id).await;
    assert_eq!(m.deliveries[1].status, "sent", "{m:?}");
    assert_eq!(env.workid_calls().len(), 1);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_directory_people_alone_get_the_fallback() {
    let env = Env::start(Backend::Sqlite).await;
    // WeLink takes it for its fans and refuses the non-fans (51019 listing them).
    let id = env.send(to_dba("welink")).await;
    env.drain().await;
    let m = env.message(&id).await;
    assert_eq!(m.deliveries[0].status, "sent", "{m:?}");
    let refused: Vec<&str> = m.deliveries[0]
        .failed_recipients
        .iter()
        .map(|f| f.recipient.as_str())
        .collect();
    assert_eq!(refused, ["nonfan1"]);
    assert_eq!(env.fallbacks().await, 1);
    env.drain().await;
    let calls = env.workid_calls();
    assert_eq!(calls.len(), 1);
    let body = calls[0].to_string();
    assert!(
        body.contains("W0002") && !body.contains("W0001"),
        "lisi alone: {body}"
    );
    assert_eq!(env.message(&id).await.status, "sent");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_48503_storm_and_an_unknown_outcome_never_fall_back() {
    let env = Env::start(Backend::Sqlite).await;
    let id = env
        .send(json!({"title": "t", "content": "c",
            "targets": [{"channel": "welink", "people": ["zhangsan"], "fallback": {"channel": "workid"}}]}))
        .await;
    // Rate-limit answers, then a connection reset mid-call (the outcome is unknown).
    env.fault(
        WELINK_SEND,
        json!({"kind": "code", "code": "48503", "count": 5}),
    )
    .await;
    for _ in 0..5 {
        env.dispatcher.run_once().await.unwrap();
        assert_eq!(env.fallbacks().await, 0);
        env.clock.advance_ms(PAST_BACKOFF_MS);
    }
    env.fault(WELINK_SEND, json!({"kind": "reset", "count": 1}))
        .await;
    env.dispatcher.run_once().await.unwrap();
    assert_eq!(env.fallbacks().await, 0);
    let m = env.message(&id).await;
    assert_eq!(m.deliveries[0].status, "queued", "{m:?}");
    // Then it goes through: still no fallback.
    env.clock.advance_ms(PAST_BACKOFF_MS);
    env.drain().await;
    let m = env.message(&id).await;
    assert_eq!(m.deliveries[0].status, "sent", "{m:?}");
    assert_eq!(env.fallbacks().await, 0);
    assert_eq!(m.deliveries.len(), 1);
    assert!(env.workid_calls().is_empty());
    env.finish().await;
}
