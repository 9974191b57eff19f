//! Shared helpers: a simulator on 127.0.0.1:0 and a reqwest client pointed at it.
#![allow(dead_code)]

use notify_simulator::{RecordedCall, Simulator};
use serde_json::{json, Value};

pub struct Sim {
    pub sim: Simulator,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start() -> Sim {
    let sim = Simulator::new();
    let addr = sim
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind simulator");
    Sim {
        sim,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// POST with the WeLink token header.
    pub async fn wl(&self, token: &str, path: &str, body: Value) -> Value {
        self.http
            .post(self.url(path))
            .header("x-wlk-Authorization", token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A WeLink token for `client_id` (any secret: unregistered apps take any).
    pub async fn welink_token(&self, client_id: &str) -> String {
        let (_, v) = self
            .post(
                "/api/auth/v2/tickets",
                json!({"client_id": client_id, "client_secret": "s3cret"}),
            )
            .await;
        assert_eq!(v["code"], "0", "{v}");
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn wecom_token(&self, corpid: &str) -> String {
        let (_, v) = self
            .get(&format!("/cgi-bin/gettoken?corpid={corpid}&corpsecret=sec"))
            .await;
        assert_eq!(v["errcode"], 0, "{v}");
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn wecom_send(&self, token: &str, body: Value) -> Value {
        self.post(&format!("/cgi-bin/message/send?access_token={token}"), body)
            .await
            .1
    }

    pub async fn oauth_token(&self, id: &str, secret: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap())
    }

    pub async fn workid(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap())
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }

    pub fn calls_on(&self, path: &str) -> Vec<RecordedCall> {
        self.sim
            .calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }
}

/// A valid plain card (000 lines 854–862, as fixed by tests/data/upstream-examples.json).
pub fn card(users: &[&str]) -> Value {
    json!({
        "toUserList": users,
        "msgTitle": "{\"EN\": \"hello world\", \"CN\": \"你好\"}",
        "msgContent": "{\"CN\": \"欢迎使用\", \"EN\": \"Welcome\"}",
        "urlType": "html",
        "urlPath": "h5://demo.com",
        "msgOwner": "John"
    })
}

pub const CARD: &str = "/api/messages/v2/card/common";
