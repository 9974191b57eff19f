//! Test harness: a fresh store (a new SQLite file, or a new Postgres schema dropped
//! afterwards) on a manual clock, the simulator, and the gateway's API merged with the sidebar,
//! served on a loopback port, with helpers that act as the agent's browser.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use notify_api::{ApiConfig, AppState, ClientConfig};
use notify_channels::{build_channel, ChannelConfig, ChannelHandle};
use notify_core::{ChannelKind, ManualClock, Secret};
use notify_sidebar::{SidebarConfig, SidebarState};
use notify_store::Store;
pub use notify_testkit::T0;
use notify_testkit::{Backend, ScratchStore};
use serde_json::Value;

/// Tenant t1: send, read, recall.
pub const SENDER: (&str, &str) = ("AK-SEND", "sk-send-secret");
/// Tenant t2: send, read, recall.
pub const OTHER: (&str, &str) = ("AK-OTHER", "sk-other-secret");
const SESSION_SECRET: &[u8] = b"sidebar-test-session-secret";

fn client(name: &str, (ak, sk): (&str, &str), tenant: &str) -> ClientConfig {
    ClientConfig {
        name: name.into(),
        access_key: ak.into(),
        secret_key: Secret::new(sk),
        previous_secret_key: None,
        tenant: tenant.into(),
        scopes: vec!["send".into(), "read".into(), "recall".into()],
        max_per_second: 0,
        connector_signing: false,
    }
}

/// The channels: `juzi` (tenant t1, signing through `wecom`) and `wecom`, both on the simulator.
fn channels(sim: SocketAddr) -> Vec<ChannelHandle> {
    let host = format!("http://{sim}");
    let mut wecom = ChannelConfig::of_kind(ChannelKind::WecomApp);
    wecom.base_url = Some(host.clone());
    wecom.corp_id = Some("sandbox-corp".into());
    wecom.corp_secret = Some(Secret::new("sandbox-secret"));
    wecom.agent_id = Some(1_000_002);
    let mut juzi = ChannelConfig::of_kind(ChannelKind::Juzi);
    juzi.base_url = Some(host);
    juzi.jssdk_channel = Some("wecom".into());
    juzi.tenant = Some("t1".into());
    vec![
        build_channel("wecom", &wecom).unwrap(),
        build_channel("juzi", &juzi).unwrap(),
    ]
}

/// One gateway (API + sidebar) on a loopback port.
async fn serve(store: &Store, channels: &[ChannelHandle]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let api = AppState::new(
        store.clone(),
        channels.to_vec(),
        ApiConfig {
            max_body_bytes: 64 * 1024,
            default_ttl_ms: 24 * 3600 * 1000,
            clients: vec![client("sender", SENDER, "t1"), client("other", OTHER, "t2")],
            signature_window_ms: 300_000,
            commit_batch_max: 16,
            pause_after_commit: None,
            ..ApiConfig::default()
        },
        None,
    );
    let sidebar = SidebarState::from_channels(
        store.clone(),
        channels,
        SidebarConfig::new(base.clone(), SESSION_SECRET.to_vec()),
    )
    .unwrap()
    .expect("a juzi channel");
    let app = notify_api::router(api).merge(notify_sidebar::router(sidebar));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    base
}

/// What a test gets.
pub struct Env {
    /// The gateway, `http://127.0.0.1:PORT`.
    pub base: String,
    /// The simulator.
    pub sim: String,
    /// The store.
    pub store: Store,
    /// Its clock.
    pub clock: ManualClock,
    channels: Vec<ChannelHandle>,
    http: reqwest::Client,
}

/// A signed-in agent: its cookie header and CSRF token.
#[derive(Debug, Clone)]
pub struct Agent {
    /// `notify_sidebar=…`.
    pub cookie: String,
    /// From the page's `<meta name="sidebar-csrf">`.
    pub csrf: String,
}

/// Runs `body` against a fresh environment on `backend` and cleans up even when it panics.
pub async fn with_env<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Env) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(T0);
    let scratch = ScratchStore::open(backend, 8, Arc::new(clock.clone())).await;
    let store = scratch.store.clone();
    let sim = notify_simulator::Simulator::new();
    let sim_addr = sim.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let channels = channels(sim_addr);
    let base = serve(&store, &channels).await;
    let env = Env {
        base,
        sim: format!("http://{sim_addr}"),
        store,
        clock,
        channels,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    scratch.run(body(env)).await;
}

/// Declares one test per backend for each async fn `name(Env)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        notify_testkit::on_both_backends!($crate::common::with_env, 2; $($name),+);
    };
}

/// `Location` of a redirect.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `Set-Cookie` line of cookie `name`.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// `name=value` of a `Set-Cookie` line.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// A query parameter of a URL.
pub fn param(u: &str, k: &str) -> Option<String> {
    url::Url::parse(u)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.into_owned())
}

/// URL-encodes a query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Env {
    /// `GET` on the gateway with extra headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }

    /// `GET` on the gateway with a cookie.
    pub async fn get_with(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.get(path, &[("cookie", cookie)]).await
    }

    /// Starts a sign-in and follows Juzi's authorize: `(state, state cookie, callback URL)`.
    pub async fn start_login(&self) -> (String, String, String) {
        let login = self.get("/sidebar/login", &[]).await;
        assert_eq!(login.status(), 302);
        let cookie = cookie_pair(&set_cookie(&login, "notify_sidebar_state").unwrap());
        let to_juzi = location(&login);
        let state = param(&to_juzi, "state").unwrap();
        let back = self.http.get(&to_juzi).send().await.unwrap();
        assert_eq!(back.status(), 302, "simulator authorize");
        (state, cookie, location(&back))
    }

    /// Calls the sidebar's OAuth callback as the browser would.
    pub async fn callback(
        &self,
        code: &str,
        state: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let path = format!(
            "/sidebar/oauth/callback?code={}&state={}",
            enc(code),
            enc(state)
        );
        match cookie {
            Some(c) => self.get(&path, &[("cookie", c)]).await,
            None => self.get(&path, &[]).await,
        }
    }

    /// A full sign-in through the simulator's Juzi OAuth, then the page for the CSRF token.
    pub async fn sign_in(&self) -> Agent {
        let (state, state_cookie, callback) = self.start_login().await;
        assert!(callback.starts_with(&format!("{}/sidebar/oauth/callback?", self.base)));
        let code = param(&callback, "code").unwrap();
        let r = self.callback(&code, &state, Some(&state_cookie)).await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
        assert_eq!(location(&r), "/sidebar/?channel=juzi");
        let line = set_cookie(&r, "notify_sidebar").expect("session cookie");
        assert!(
            line.contains("HttpOnly")
                && line.contains("SameSite=Lax")
                && line.contains("Path=/sidebar")
        );
        let cleared = set_cookie(&r, "notify_sidebar_state").expect("state cookie cleared");
        assert!(cleared.contains("Max-Age=0"));
        let cookie = cookie_pair(&line);
        let page = self.get_with("/sidebar/?channel=juzi", &cookie).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let csrf = html
            .split("name=\"sidebar-csrf\" content=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        assert_eq!(csrf.len(), 32);
        Agent { cookie, csrf }
    }

    /// A request with an optional cookie, CSRF header and JSON body: `(status, body)`.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "POST" => self.http.post(url),
            _ => self.http.get(url),
        };
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(c) = csrf {
            r = r.header("x-sidebar-csrf", c);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A sidebar API call as the agent.
    pub async fn api(
        &self,
        a: &Agent,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.raw(method, path, Some(&a.cookie), Some(&a.csrf), body)
            .await
    }

    /// The agent's report on delivery `id`.
    pub async fn report(&self, a: &Agent, id: &str, body: Value) -> (u16, Value) {
        self.api(
            a,
            "POST",
            &format!("/sidebar/api/deliveries/{id}/result"),
            Some(body),
        )
        .await
    }

    async fn caller(
        &self,
        (_, sk): (&str, &str),
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "POST" => self.http.post(url),
            _ => self.http.get(url),
        }
        .bearer_auth(sk);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Posts a message as `who`: `(message id, first delivery id)`.
    pub async fn post_message(&self, who: (&str, &str), body: Value) -> (String, String) {
        let (st, b) = self.caller(who, "POST", "/v1/messages", Some(body)).await;
        assert_eq!(st, 202, "{b}");
        assert_eq!(b["deliveries"][0]["status"], "awaiting_agent");
        (
            b["id"].as_str().unwrap().to_string(),
            b["deliveries"][0]["id"].as_str().unwrap().to_string(),
        )
    }

    /// `GET /v1/messages/{id}` as `who`.
    pub async fn message(&self, who: (&str, &str), id: &str) -> Value {
        let (st, b) = self
            .caller(who, "GET", &format!("/v1/messages/{id}"), None)
            .await;
        assert_eq!(st, 200, "{b}");
        b
    }

    /// The first delivery's status.
    pub async fn delivery_status(&self, who: (&str, &str), id: &str) -> String {
        self.message(who, id).await["deliveries"][0]["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `POST /v1/messages/{id}/recall` as `who`.
    pub async fn recall(&self, who: (&str, &str), id: &str) -> Value {
        let (st, b) = self
            .caller(who, "POST", &format!("/v1/messages/{id}/recall"), None)
            .await;
        assert_eq!(st, 202, "{b}");
        b
    }

    /// A control call to the simulator.
    pub async fn sim_post(&self, path: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.sim))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap()
        );
    }

    /// Every call the simulator saw.
    pub async fn sim_calls(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/_sim/calls", self.sim))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["calls"].as_array().cloned().unwrap_or_default()
    }

    /// Another gateway replica on the same store and simulator (its own memory caches).
    pub async fn second_replica(&self) -> Env {
        let base = serve(&self.store, &self.channels).await;
        Env {
            base,
            sim: self.sim.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            channels: self.channels.clone(),
            http: self.http.clone(),
        }
    }
}
