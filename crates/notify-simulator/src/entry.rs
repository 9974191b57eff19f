//! The one entry point of every upstream call: read the request, apply a fault if one is
//! set, route to the upstream's handler, answer, and record the call.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::calls::Entry;
use crate::conn::ConnInfo;
use crate::faults::{FaultKind, FaultSpec};
use crate::reply::{Body, Incoming, Reply};
use crate::{ids, juzi, oauth, wecom_app, welink, workid, xiaowei, Inner, Simulator};

/// Largest body accepted on ordinary endpoints (WeLink's biggest body, 1000 ids plus text, is
/// far below).
const JSON_BODY_LIMIT: usize = 2 << 20;
/// Largest media upload accepted: WeCom's 20 MB file limit plus room for the multipart frame,
/// so that a 20 MB + 1 byte file reaches the handler and is refused with WeCom's own code.
const UPLOAD_BODY_LIMIT: usize = 21 << 20;
/// How long a `timeout` fault holds a request.
const TIMEOUT_HOLD: Duration = Duration::from_secs(60);
/// How much of a non-JSON body the log keeps.
const TEXT_BODY_KEEP: usize = 64 << 10;

/// Which upstream a path belongs to; decides the shape of injected errors and the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Welink,
    Xiaowei,
    WecomApp,
    WorkId,
    OAuth,
    Juzi,
    Other,
}

pub(crate) fn family(path: &str) -> Family {
    if path.starts_with("/api/athenaservice/") {
        Family::Xiaowei
    } else if path.starts_with("/api/v1/oauth/") || path.starts_with("/oauth/connect/") {
        // Juzi's getUserInfo lives under /api too; it is not a WeLink call.
        Family::Juzi
    } else if path == "/oauth/token" {
        Family::OAuth
    } else if path.starts_with("/api/") {
        Family::Welink
    } else if path.starts_with("/cgi-bin/") {
        Family::WecomApp
    } else if path.starts_with("/integration/") {
        Family::WorkId
    } else {
        Family::Other
    }
}

/// Whether a path is served by the WeLink host (counts against the per-IP cap).
pub(crate) fn welink_host(path: &str) -> bool {
    matches!(family(path), Family::Welink | Family::Xiaowei)
}

fn route(sim: &Inner, inc: &Incoming) -> Reply {
    use welink::messages::SendKind;
    let post = inc.method == Method::POST;
    let get = inc.method == Method::GET;
    match inc.path.as_str() {
        "/api/auth/v2/tickets" if post => welink::token::tickets(sim, inc),
        "/api/messages/v2/card/common" if post => welink::messages::send(sim, inc, SendKind::Card),
        "/api/messages/v1/card/wecode" if post => {
            welink::messages::send(sim, inc, SendKind::AppCard)
        }
        "/api/messages/v1/image" if post => welink::messages::send(sim, inc, SendKind::Image),
        "/api/messages/v1/news" if post => welink::messages::send(sim, inc, SendKind::News),
        "/api/messages/v1/update" if post => welink::update::update(sim, inc),
        "/api/messages/v1/recall" if post => welink::update::recall(sim, inc),
        "/api/athenaservice/v1/contextaware/push" if post => xiaowei::push(sim, inc),
        "/cgi-bin/gettoken" if get => wecom_app::token::gettoken(sim, inc),
        "/cgi-bin/get_jsapi_ticket" if get => wecom_app::token::jsapi_ticket(sim, inc),
        "/cgi-bin/ticket/get" if get => wecom_app::token::agent_ticket(sim, inc),
        "/cgi-bin/message/send" if post => wecom_app::send::send(sim, inc),
        "/cgi-bin/message/recall" if post => wecom_app::send::recall(sim, inc),
        "/cgi-bin/media/upload" if post => wecom_app::media::upload(sim, inc),
        "/oauth/token" if post => oauth::token(sim, inc),
        "/integration/wx_work/sendByWorkIds"
        | "/integration/wx_work/sendTextCardByWorkIds"
        | "/integration/wx_work/sendFileByWorkIds"
        | "/integration/wx_work/sendImageByWorkIds"
        | "/integration/wx_work/sendMarkdownByWorkIds"
        | "/integration/wx_work/recall"
            if post =>
        {
            workid::handle(sim, inc)
        }
        "/oauth/connect/authorize" if get => juzi::authorize(sim, inc),
        "/api/v1/oauth/getUserInfo" if get => juzi::get_user_info(sim, inc),
        p if KNOWN_PATHS.contains(&p) => Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method not allowed", "path": p}),
            "405",
        ),
        p => Reply::json(
            StatusCode::NOT_FOUND,
            json!({"error": "no such upstream endpoint in the simulator", "path": p}),
            "404",
        ),
    }
}

const KNOWN_PATHS: &[&str] = &[
    "/api/auth/v2/tickets",
    "/api/messages/v2/card/common",
    "/api/messages/v1/card/wecode",
    "/api/messages/v1/image",
    "/api/messages/v1/news",
    "/api/messages/v1/update",
    "/api/messages/v1/recall",
    "/api/athenaservice/v1/contextaware/push",
    "/cgi-bin/gettoken",
    "/cgi-bin/get_jsapi_ticket",
    "/cgi-bin/ticket/get",
    "/cgi-bin/message/send",
    "/cgi-bin/message/recall",
    "/cgi-bin/media/upload",
    "/oauth/token",
    "/integration/wx_work/sendByWorkIds",
    "/integration/wx_work/sendTextCardByWorkIds",
    "/integration/wx_work/sendFileByWorkIds",
    "/integration/wx_work/sendImageByWorkIds",
    "/integration/wx_work/sendMarkdownByWorkIds",
    "/integration/wx_work/recall",
    "/oauth/connect/authorize",
    "/api/v1/oauth/getUserInfo",
];

/// The answer an injected `code` fault gives, in the upstream's own error shape.
fn fault_code_reply(path: &str, f: &FaultSpec) -> Reply {
    let code = match &f.code {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let as_num = code
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or(Value::String(code.clone()));
    let fam = family(path);
    let default_status = if fam == Family::OAuth { 400 } else { 200 };
    let status =
        StatusCode::from_u16(f.http_status.unwrap_or(default_status)).unwrap_or(StatusCode::OK);
    let body = match fam {
        Family::Welink | Family::Xiaowei | Family::Other => {
            json!({"code": code, "message": "injected fault"})
        }
        Family::WecomApp | Family::Juzi => json!({"errcode": as_num, "errmsg": "injected fault"}),
        Family::WorkId => json!({
            "code": as_num, "msg": "injected fault", "data": null,
            "requestId": ids::request_id(), "ok": false
        }),
        Family::OAuth => json!({"error": code, "error_description": "injected fault"}),
    };
    Reply::json(status, body, code).note("fault:code")
}

fn status_reply(status: u16, what: &str) -> Reply {
    let s = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Reply::json(
        s,
        json!({"error": what, "status": status}),
        status.to_string(),
    )
}

/// The JSON (or text) the log keeps for a request body.
fn recorded_body(inc: &mut Incoming) -> Value {
    if let Some(v) = inc.json.take() {
        return v;
    }
    if inc.body.is_empty() {
        return Value::Null;
    }
    if inc
        .header("content-type")
        .is_some_and(|c| c.starts_with("multipart/"))
    {
        return Value::String(crate::multipart::summary(inc));
    }
    let keep = &inc.body[..inc.body.len().min(TEXT_BODY_KEEP)];
    Value::String(String::from_utf8_lossy(keep).into_owned())
}

fn record(sim: &Inner, mut inc: Incoming, arrival_mono: u64, reply: &Reply, status: u16) -> u64 {
    let body = recorded_body(&mut inc);
    sim.log.push(Entry {
        seq: 0,
        at_ms: inc.now_ms,
        mono_us: reply.mono_us.unwrap_or(arrival_mono),
        method: inc.method.as_str().to_owned(),
        path: inc.path,
        query: inc.query,
        headers: inc.headers,
        body,
        status,
        answer: reply.answer_value(),
        code: reply.code.clone(),
        client_id: reply.client_id.clone(),
        peer_ip: inc.peer_ip,
        dropped: reply.dropped,
        notes: reply.notes.clone(),
        members: reply.members.clone(),
    })
}

fn into_response(reply: Reply) -> Response {
    let reply = reply.into_data();
    let mut resp = match reply.body {
        Body::Json(v) => {
            let bytes = serde_json::to_vec(&v).unwrap_or_default();
            let mut r = (reply.status, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=UTF-8"),
            );
            r
        }
        Body::Redirect(location) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
    };
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// The fallback handler that serves every upstream path.
pub(crate) async fn upstream(State(sim): State<Simulator>, req: Request) -> Response {
    let inner = &*sim.inner;
    let (parts, body) = req.into_parts();
    let conn = parts
        .extensions
        .get::<ConnectInfo<ConnInfo>>()
        .map(|c| c.0.clone());
    let peer_ip = parts
        .headers
        .get("x-sim-peer-ip")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| conn.as_ref().map(|c| c.peer.ip().to_string()))
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let now_ms = inner.clock.now_ms();
    let arrival_mono = inner.clock.mono_us();
    let limit = if path == "/cgi-bin/media/upload" {
        UPLOAD_BODY_LIMIT
    } else {
        JSON_BODY_LIMIT
    };
    let (bytes, too_large) = match axum::body::to_bytes(body, limit).await {
        Ok(b) => (b, false),
        Err(_) => (bytes::Bytes::new(), true),
    };
    let json = if bytes.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(&bytes).ok()
    };
    let inc = Incoming {
        method: parts.method,
        path,
        query,
        headers: parts.headers,
        body: bytes,
        json,
        peer_ip,
        now_ms,
    };
    if too_large {
        let reply = status_reply(413, "request body too large");
        record(inner, inc, arrival_mono, &reply, 413);
        return into_response(reply);
    }

    let fault = inner.faults.take(&inc.path);
    let Some(fault) = fault else {
        let reply = route(inner, &inc);
        let status = reply.status.as_u16();
        record(inner, inc, arrival_mono, &reply, status);
        return into_response(reply);
    };
    match fault.kind {
        FaultKind::Code => {
            let reply = fault_code_reply(&inc.path, &fault);
            let status = reply.status.as_u16();
            record(inner, inc, arrival_mono, &reply, status);
            into_response(reply)
        }
        FaultKind::HttpStatus => {
            let s = fault.http_status.unwrap_or(500);
            let reply = status_reply(s, "injected HTTP status").note("fault:http_status");
            record(inner, inc, arrival_mono, &reply, s);
            into_response(reply)
        }
        FaultKind::Latency => {
            let reply = route(inner, &inc).note("fault:latency");
            let status = reply.status.as_u16();
            record(inner, inc, arrival_mono, &reply, status);
            tokio::time::sleep(Duration::from_millis(fault.latency_ms.unwrap_or(0))).await;
            into_response(reply)
        }
        FaultKind::Timeout => {
            let reply = status_reply(504, "simulated upstream timeout").note("fault:timeout");
            record(inner, inc, arrival_mono, &reply, 504);
            tokio::time::sleep(TIMEOUT_HOLD).await;
            into_response(reply)
        }
        FaultKind::Reset => {
            let mut reply = Reply::json(StatusCode::OK, Value::Null, "reset").note("fault:reset");
            reply.body = Body::Json(Value::Null);
            record(inner, inc, arrival_mono, &reply, 0);
            match conn {
                Some(c) => {
                    c.kill.store(true, std::sync::atomic::Ordering::Relaxed);
                    StatusCode::OK.into_response()
                }
                None => {
                    // Served by someone else's listener: the best we can do is to fail the
                    // body mid-answer, which hyper turns into an aborted connection.
                    let failing = futures_util::stream::once(async {
                        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "simulated reset",
                        ))
                    });
                    Response::new(AxumBody::from_stream(failing))
                }
            }
        }
    }
}
