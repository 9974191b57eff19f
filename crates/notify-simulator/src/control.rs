//! The `/_sim/...` control API: the call log, reset, faults, tokens, clock, caps, apps,
//! behaviour modes, the Juzi user, the sandbox's simulated Juzi chats and statistics, and the
//! pages: calls, recipients' view, Juzi chats. Every body is JSON; errors are 400
//! `{"error": "..."}`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::apps::AppSpec;
use crate::caps::CapsUpdate;
use crate::faults::FaultSpec;
use crate::juzi::JuziUserUpdate;
use crate::{chats, page, recipients, stats, Simulator};

/// How WeLink answers a send that names non-fans among fans (see README, "51019").
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NonfanMode {
    /// Sent to the fans: `51019` with `itemId` and `failedUserId`.
    #[default]
    Partial,
    /// Nothing sent: `51019` with `failedUserId` and no `itemId` (the document's example read
    /// literally), so the caller must send again without the non-fans.
    RejectAll,
}

/// Behaviour switches that are not caps (`POST /_sim/modes`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Modes {
    pub welink_nonfan: NonfanMode,
    /// `expires_in` of WeLink tokens (000 lines 485, 495: 7200, "可能会随平台调整而动态变化").
    pub welink_token_ttl_s: i64,
    /// `expires_in` of WeCom tokens.
    pub wecom_token_ttl_s: i64,
    /// `expires_in` of OAuth2 client-credentials tokens.
    pub oauth_token_ttl_s: i64,
    /// Lifetime of an uploaded WeCom `media_id` (3 days).
    pub media_ttl_s: i64,
    /// WeCom app markdown limit in bytes (UPSTREAM-FACTS: 2048, "treat as configurable").
    pub wecom_markdown_max_bytes: usize,
}

impl Default for Modes {
    fn default() -> Self {
        Self {
            welink_nonfan: NonfanMode::Partial,
            welink_token_ttl_s: 7200,
            wecom_token_ttl_s: 7200,
            oauth_token_ttl_s: 7200,
            media_ttl_s: 3 * 24 * 3600,
            wecom_markdown_max_bytes: 2048,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModesUpdate {
    welink_nonfan: Option<NonfanMode>,
    welink_token_ttl_s: Option<i64>,
    wecom_token_ttl_s: Option<i64>,
    oauth_token_ttl_s: Option<i64>,
    media_ttl_s: Option<i64>,
    wecom_markdown_max_bytes: Option<usize>,
}

pub(crate) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/_sim", get(page::page))
        .route("/_sim/", get(page::page))
        .route("/_sim/recipients", get(recipients::page))
        .route("/_sim/chats", get(chats::page))
        .route("/_sim/chats.js", get(chats::script))
        .route("/_sim/juzi/chats", get(chats::list))
        .route("/_sim/juzi/chats/send", post(chats::send))
        .route("/_sim/calls", get(calls))
        .route("/_sim/reset", post(reset))
        .route(
            "/_sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/tokens/revoke", post(revoke))
        .route("/_sim/clock", get(get_clock).post(set_clock))
        .route("/_sim/caps", get(get_caps).post(set_caps))
        .route("/_sim/modes", get(get_modes).post(set_modes))
        .route(
            "/_sim/apps",
            get(list_apps).post(add_apps).delete(clear_apps),
        )
        .route("/_sim/juzi/user", get(get_juzi_user).post(set_juzi_user))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/rules", get(get_rules))
}

/// `GET /_sim/rules`: every document rule the simulator enforces, with its line and code.
async fn get_rules() -> Json<Value> {
    Json(crate::rules::table_json())
}

fn bad(msg: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": msg.to_string()})),
    )
        .into_response()
}

/// Parses a body that is one `what` object or an array of them; nothing is applied unless all
/// of them parse.
fn one_or_many<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<Vec<T>, String> {
    let items = match parse::<Value>(body)? {
        Value::Array(a) => a,
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(|e| format!("bad {what}: {e}")))
        .collect()
}

/// Parses a JSON body; an empty body is `{}`.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let slice: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(slice).map_err(|e| format!("bad JSON body: {e}"))
}

#[derive(Debug, Default, Deserialize)]
struct CallsQuery {
    path: Option<String>,
    path_prefix: Option<String>,
    since_seq: Option<u64>,
    limit: Option<usize>,
}

/// `GET /_sim/calls?path=&path_prefix=&since_seq=&limit=`: matching calls, oldest first,
/// `seq > since_seq`, at most `limit`.
async fn calls(State(sim): State<Simulator>, Query(q): Query<CallsQuery>) -> Response {
    let calls: Vec<_> = sim
        .inner
        .log
        .snapshot()
        .iter()
        .filter(|e| q.since_seq.is_none_or(|s| e.seq > s))
        .filter(|e| q.path.as_deref().is_none_or(|p| e.path == p))
        .filter(|e| {
            q.path_prefix
                .as_deref()
                .is_none_or(|p| e.path.starts_with(p))
        })
        .take(q.limit.unwrap_or(usize::MAX))
        .map(|e| e.to_recorded())
        .collect();
    Json(json!({ "calls": calls })).into_response()
}

async fn reset(State(sim): State<Simulator>) -> Response {
    sim.inner.reset();
    Json(json!({"ok": true})).into_response()
}

async fn list_faults(State(sim): State<Simulator>) -> Response {
    Json(json!({"faults": sim.inner.faults.list()})).into_response()
}

/// `POST /_sim/faults`: one fault object, or an array of them.
async fn add_fault(State(sim): State<Simulator>, body: Bytes) -> Response {
    let specs: Vec<FaultSpec> = match one_or_many(&body, "fault") {
        Ok(l) => l,
        Err(e) => return bad(e),
    };
    for spec in &specs {
        if spec.count == Some(0) {
            return bad("count must be at least 1 (omit it for \"until cleared\")");
        }
        if let Err(e) = spec.validate() {
            return bad(e);
        }
    }
    for s in specs {
        sim.inner.faults.add(s);
    }
    Json(json!({"faults": sim.inner.faults.list()})).into_response()
}

async fn clear_faults(State(sim): State<Simulator>) -> Response {
    sim.inner.faults.clear();
    Json(json!({"faults": []})).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// WeLink client_id, WeCom corpid or OAuth client id; absent = every token.
    #[serde(alias = "corpid")]
    client_id: Option<String>,
}

async fn revoke(State(sim): State<Simulator>, body: Bytes) -> Response {
    let b: RevokeBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    let id = b.client_id.as_deref();
    let n = sim.inner.welink.revoke(id) + sim.inner.wecom.revoke(id) + sim.inner.workid.revoke(id);
    Json(json!({"revoked": n})).into_response()
}

fn clock_view(sim: &Simulator) -> Value {
    json!({
        "now_ms": sim.inner.clock.now_ms(),
        "offset_ms": sim.inner.clock.offset_ms(),
        "mono_us": sim.inner.clock.mono_us(),
    })
}

async fn get_clock(State(sim): State<Simulator>) -> Response {
    Json(clock_view(&sim)).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    /// Sets the offset from system time.
    offset_ms: Option<i64>,
    /// Sets the simulated time to this unix-ms instant.
    set_ms: Option<i64>,
    /// Moves the simulated time forward (or back) by this much.
    advance_ms: Option<i64>,
    /// Moves the monotonic clock of the caps forward, to age the sliding windows.
    advance_mono_ms: Option<u64>,
}

async fn set_clock(State(sim): State<Simulator>, body: Bytes) -> Response {
    let b: ClockBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    let clock = &sim.inner.clock;
    if let Some(o) = b.offset_ms {
        clock.set_offset_ms(o);
    }
    if let Some(t) = b.set_ms {
        clock.set_now_ms(t);
    }
    if let Some(d) = b.advance_ms {
        clock.advance_ms(d);
    }
    if let Some(d) = b.advance_mono_ms {
        clock.advance_mono_ms(d);
    }
    Json(clock_view(&sim)).into_response()
}

async fn get_caps(State(sim): State<Simulator>) -> Response {
    Json(*sim.inner.caps.read()).into_response()
}

async fn set_caps(State(sim): State<Simulator>, body: Bytes) -> Response {
    let u: CapsUpdate = match parse(&body) {
        Ok(u) => u,
        Err(e) => return bad(e),
    };
    let mut caps = sim.inner.caps.write();
    caps.apply(&u);
    Json(*caps).into_response()
}

async fn get_modes(State(sim): State<Simulator>) -> Response {
    Json(*sim.inner.modes.read()).into_response()
}

async fn set_modes(State(sim): State<Simulator>, body: Bytes) -> Response {
    let u: ModesUpdate = match parse(&body) {
        Ok(u) => u,
        Err(e) => return bad(e),
    };
    let mut m = sim.inner.modes.write();
    if let Some(v) = u.welink_nonfan {
        m.welink_nonfan = v;
    }
    if let Some(v) = u.welink_token_ttl_s {
        m.welink_token_ttl_s = v;
    }
    if let Some(v) = u.wecom_token_ttl_s {
        m.wecom_token_ttl_s = v;
    }
    if let Some(v) = u.oauth_token_ttl_s {
        m.oauth_token_ttl_s = v;
    }
    if let Some(v) = u.media_ttl_s {
        m.media_ttl_s = v;
    }
    if let Some(v) = u.wecom_markdown_max_bytes {
        m.wecom_markdown_max_bytes = v;
    }
    Json(*m).into_response()
}

async fn list_apps(State(sim): State<Simulator>) -> Response {
    Json(json!({"apps": sim.inner.apps.list()})).into_response()
}

/// `POST /_sim/apps`: one app or an array of them.
async fn add_apps(State(sim): State<Simulator>, body: Bytes) -> Response {
    let specs: Vec<AppSpec> = match one_or_many(&body, "app") {
        Ok(l) => l,
        Err(e) => return bad(e),
    };
    if specs
        .iter()
        .any(|s| s.client_id.is_empty() || s.client_secret.is_empty())
    {
        return bad("client_id and client_secret must not be empty");
    }
    for s in specs {
        sim.inner.apps.register(s);
    }
    Json(json!({"apps": sim.inner.apps.list()})).into_response()
}

async fn clear_apps(State(sim): State<Simulator>) -> Response {
    sim.inner.apps.remove_all();
    Json(json!({"apps": []})).into_response()
}

async fn get_juzi_user(State(sim): State<Simulator>) -> Response {
    Json(sim.inner.juzi.set_user(JuziUserUpdate::default())).into_response()
}

async fn set_juzi_user(State(sim): State<Simulator>, body: Bytes) -> Response {
    let u: JuziUserUpdate = match parse(&body) {
        Ok(u) => u,
        Err(e) => return bad(e),
    };
    Json(sim.inner.juzi.set_user(u)).into_response()
}

async fn get_stats(State(sim): State<Simulator>) -> Response {
    Json(stats::compute(&sim.inner.log.snapshot())).into_response()
}
