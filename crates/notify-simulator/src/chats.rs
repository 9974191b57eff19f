//! Simulated Juzi chats for the sandbox. A Juzi message is not sent by the gateway: it waits
//! until an agent's sidebar, open in the customer chat, sends it with
//! `wx.invoke('sendChatMessage', …)` (001). The page `/_sim/chats` plays that chat window: it
//! embeds the gateway's real sidebar page and answers its `wx` calls through `postMessage`
//! (the sidebar's sandbox bridge), and what the sidebar sends lands here and shows in the chat.
//!
//! Which chats have waiting messages only the gateway knows; when it runs the simulator
//! in-process it links itself with [`crate::Simulator::link_gateway`]. A simulator run alone
//! lists only the chats something was sent to.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::Simulator;

/// How many sent chat messages are kept (the oldest are forgotten first).
const KEPT: usize = 1000;

const PAGE: &str = include_str!("../assets/chats.html");
const SCRIPT: &str = include_str!("../assets/chats.js");

/// One chat with messages waiting for an agent, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingChat {
    /// The `juzi` channel's name.
    pub channel: String,
    /// `chat:<wxChatId>` or `contact:<wxUserId>`, then `@<botId>` when pinned to a hosted account.
    pub chat_key: String,
    /// How many messages wait.
    pub waiting: u64,
}

/// What [`WaitingChats::waiting_chats`] returns.
pub type WaitingChatsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<WaitingChat>, String>> + Send + 'a>>;

/// The gateway's list of chats with waiting Juzi messages.
pub trait WaitingChats: Send + Sync {
    /// The chats, oldest waiting first; an error is shown on the page.
    fn waiting_chats(&self) -> WaitingChatsFuture<'_>;
}

/// What the simulator needs to know about the gateway that runs it in-process.
#[derive(Clone)]
pub struct GatewayLink {
    /// The sidebar page, e.g. `http://127.0.0.1:8080/sidebar/` (`?channel=` is added per chat).
    pub sidebar_url: String,
    /// Where the waiting chats come from.
    pub chats: Arc<dyn WaitingChats>,
}

/// A message the embedded sidebar sent into a simulated chat.
#[derive(Debug, Clone, Serialize)]
struct ChatMessage {
    seq: u64,
    at_ms: i64,
    channel: String,
    chat_key: String,
    /// The `SendParams` exactly as the sidebar passed them.
    payload: Value,
    /// The `err_msg` answered.
    err_msg: String,
}

#[derive(Default)]
pub(crate) struct State {
    link: RwLock<Option<GatewayLink>>,
    sent: Mutex<(u64, Vec<ChatMessage>)>,
}

impl State {
    /// Forgets the sent messages; the gateway link stays.
    pub fn clear(&self) {
        *self.sent.lock() = (0, Vec::new());
    }

    pub fn link(&self, link: GatewayLink) {
        *self.link.write() = Some(link);
    }
}

/// The `err_msg` Juzi's `sendChatMessage` answers for `params` (001: `sendChatMessage:ok`,
/// `text content is empty`, `url is empty`). A `msgtype` the document does not list is
/// answered `sendChatMessage:fail unknown msgtype` (the simulator's convention).
pub(crate) fn juzi_answer(params: &Value) -> String {
    let t = params.get("msgtype").and_then(Value::as_str).unwrap_or("");
    let field = |part: &str, k: &str| {
        params
            .get(part)
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let ok = "sendChatMessage:ok".to_string();
    match t {
        "text" if field("text", "content").is_empty() => "text content is empty".into(),
        "text" => ok,
        "image" | "video" | "file" if field(t, "url").is_empty() => "url is empty".into(),
        "news" if field("news", "link").is_empty() => "url is empty".into(),
        "miniprogram" if field("miniprogram", "imgUrl").is_empty() => "url is empty".into(),
        "image" | "video" | "file" | "news" | "miniprogram" => ok,
        _ => "sendChatMessage:fail unknown msgtype".into(),
    }
}

/// `GET /_sim/chats`: the chat windows.
pub(crate) async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE.replace("{{NAV}}", &crate::page::nav("chats")),
    )
        .into_response()
}

/// `GET /_sim/chats.js`.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// `GET /_sim/juzi/chats`: the gateway's waiting chats merged with the chats something was sent
/// to, each with its sent messages, the sidebar's address and the signed-in Juzi account.
pub(crate) async fn list(Extract(sim): Extract<Simulator>) -> Response {
    let link = sim.inner.chats.link.read().clone();
    let (waiting, error) = match &link {
        Some(l) => match l.chats.waiting_chats().await {
            Ok(w) => (w, None),
            Err(e) => (Vec::new(), Some(e)),
        },
        None => (Vec::new(), None),
    };
    let sent = sim.inner.chats.sent.lock().1.clone();
    let mut chats: Vec<Value> = Vec::new();
    let mut keys: Vec<(String, String)> = waiting
        .iter()
        .map(|w| (w.channel.clone(), w.chat_key.clone()))
        .collect();
    for m in &sent {
        let k = (m.channel.clone(), m.chat_key.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (channel, key) in keys {
        let waiting = waiting
            .iter()
            .find(|w| w.channel == channel && w.chat_key == key)
            .map_or(0, |w| w.waiting);
        let (base, bot) = match key.split_once('@') {
            Some((b, bot)) => (b, Some(bot)),
            None => (key.as_str(), None),
        };
        let (kind, id) = base.split_once(':').unwrap_or(("chat", base));
        let messages: Vec<&ChatMessage> = sent
            .iter()
            .filter(|m| m.channel == channel && m.chat_key == key)
            .collect();
        chats.push(json!({
            "channel": channel, "chat_key": key, "kind": kind, "id": id, "bot_id": bot,
            "waiting": waiting, "messages": messages,
        }));
    }
    let user = sim.inner.juzi.user();
    Json(json!({
        "linked": link.is_some(),
        "sidebar_url": link.as_ref().map(|l| l.sidebar_url.clone()),
        "gateway_origin": link.as_ref().and_then(|l| origin_of(&l.sidebar_url)),
        "agent": {"bot_id": user.bot_id, "name": user.name},
        "error": error,
        "chats": chats,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    channel: String,
    chat_key: String,
    payload: Value,
}

/// `POST /_sim/juzi/chats/send` `{channel, chat_key, payload}`: what the embedded sidebar's
/// `sendChatMessage` passed; answered `{err_msg}` as Juzi would, and kept when it is `ok`.
pub(crate) async fn send(Extract(sim): Extract<Simulator>, body: Bytes) -> Response {
    let b: SendBody =
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("bad send body (channel, chat_key, payload): {e}")})),
            )
                .into_response(),
        };
    if b.channel.is_empty() || b.chat_key.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "channel and chat_key must not be empty"})),
        )
            .into_response();
    }
    let err_msg = juzi_answer(&b.payload);
    if err_msg == "sendChatMessage:ok" {
        let at_ms = sim.inner.clock.now_ms();
        let mut sent = sim.inner.chats.sent.lock();
        sent.0 += 1;
        let seq = sent.0;
        if sent.1.len() >= KEPT {
            sent.1.remove(0);
        }
        sent.1.push(ChatMessage {
            seq,
            at_ms,
            channel: b.channel,
            chat_key: b.chat_key,
            payload: b.payload,
            err_msg: err_msg.clone(),
        });
    }
    Json(json!({ "err_msg": err_msg })).into_response()
}

#[cfg(test)]
mod tests {
    use super::juzi_answer;
    use serde_json::json;

    #[test]
    fn answers_follow_the_documents_err_msgs() {
        let ok = "sendChatMessage:ok";
        assert_eq!(
            juzi_answer(&json!({"msgtype": "text", "text": {"content": "hi"}})),
            ok
        );
        assert_eq!(
            juzi_answer(&json!({"msgtype": "text", "text": {"content": "  "}})),
            "text content is empty"
        );
        assert_eq!(
            juzi_answer(&json!({"msgtype": "news", "news": {"link": "", "title": "t"}})),
            "url is empty"
        );
        assert_eq!(
            juzi_answer(&json!({"msgtype": "news", "news": {"link": "https://x.example"}})),
            ok
        );
        assert_eq!(
            juzi_answer(&json!({"msgtype": "file", "file": {"title": "f"}})),
            "url is empty"
        );
        assert_eq!(
            juzi_answer(&json!({"msgtype": "voice"})),
            "sendChatMessage:fail unknown msgtype"
        );
    }
}
