//! The request as handlers see it, and the answer they give back.
//!
//! Handlers are plain synchronous functions `(&Inner, &Incoming) -> Reply`: the entry point
//! has already read the body, parsed JSON once and taken the time, and it turns the `Reply`
//! into both the HTTP response and the call-log entry, so no handler can forget to record.

use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::calls::MemberUse;

/// One upstream request, read in full.
pub(crate) struct Incoming {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    pub peer_ip: String,
    /// Simulated wall time at arrival.
    pub now_ms: i64,
}

impl Incoming {
    /// A header's value as text (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, percent-decoded; the first one when repeated.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as a JSON object, if it is one.
    pub fn object(&self) -> Option<&Map<String, Value>> {
        self.json.as_ref().and_then(Value::as_object)
    }
}

/// What a handler answers.
pub(crate) enum Body {
    Json(Value),
    /// A 302 to this location (Juzi authorize).
    Redirect(String),
}

/// A handler's answer plus what the call log should know about it. Boxed: handlers pass it
/// back through many `Result<_, Reply>` layers, which should stay a pointer wide.
pub(crate) struct Reply(Box<ReplyData>);

impl std::ops::Deref for Reply {
    type Target = ReplyData;
    fn deref(&self) -> &ReplyData {
        &self.0
    }
}

impl std::ops::DerefMut for Reply {
    fn deref_mut(&mut self) -> &mut ReplyData {
        &mut self.0
    }
}

/// The fields of a [`Reply`].
pub(crate) struct ReplyData {
    pub status: StatusCode,
    pub body: Body,
    /// The answer's code, for statistics (see `Entry::code`).
    pub code: String,
    pub client_id: Option<String>,
    pub dropped: bool,
    pub notes: Vec<String>,
    /// The monotonic instant a cap admitted (or refused) the call.
    pub mono_us: Option<u64>,
    pub members: Option<MemberUse>,
    /// Extra response headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: StatusCode, body: Value, code: impl Into<String>) -> Self {
        Self(Box::new(ReplyData {
            status,
            body: Body::Json(body),
            code: code.into(),
            client_id: None,
            dropped: false,
            notes: Vec::new(),
            mono_us: None,
            members: None,
            headers: Vec::new(),
        }))
    }

    /// The answer's parts, for building the HTTP response.
    pub fn into_data(self) -> ReplyData {
        *self.0
    }

    pub fn redirect(location: String) -> Self {
        let mut r = Self::json(StatusCode::FOUND, Value::Null, "302");
        r.body = Body::Redirect(location);
        r
    }

    pub fn client(mut self, client_id: Option<&str>) -> Self {
        if self.client_id.is_none() {
            self.client_id = client_id.map(str::to_owned);
        }
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn at(mut self, mono_us: u64) -> Self {
        self.mono_us = Some(mono_us);
        self
    }

    /// The JSON answered, for the call log.
    pub fn answer_value(&self) -> Value {
        match &self.body {
            Body::Json(v) => v.clone(),
            Body::Redirect(l) => Value::String(format!("302 Location: {l}")),
        }
    }
}

/// A WeLink answer: `code` is a string, and fields that are empty are left out (000 lines
/// 833–847 show `itemId` only on success and `failedUserId` only on 51019).
pub(crate) fn welink(code: &str, message: &str, extra: Option<Map<String, Value>>) -> Reply {
    let mut o = Map::new();
    o.insert("code".into(), Value::String(code.to_owned()));
    o.insert("message".into(), Value::String(message.to_owned()));
    if let Some(extra) = extra {
        for (k, v) in extra {
            let empty = match &v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(m) => m.is_empty(),
                _ => false,
            };
            if !empty {
                o.insert(k, v);
            }
        }
    }
    Reply::json(StatusCode::OK, Value::Object(o), code)
}

/// A WeCom answer `{errcode, errmsg}` plus extra fields.
pub(crate) fn wecom(errcode: i64, errmsg: &str, extra: Option<Map<String, Value>>) -> Reply {
    let mut o = Map::new();
    o.insert("errcode".into(), json!(errcode));
    o.insert("errmsg".into(), json!(errmsg));
    if let Some(extra) = extra {
        o.extend(extra);
    }
    Reply::json(StatusCode::OK, Value::Object(o), errcode.to_string())
}
