//! The data an adapter exchanges with the dispatcher: requests to make, answers received,
//! tokens, and the calls a recall or state update needs.

use notify_core::{PartOp, PartPlan, StateColor};
use serde::{Deserialize, Serialize};

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body.
    Empty,
    /// `application/json`.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// `multipart/form-data` with one file field.
    Multipart {
        /// The field name (`media` for WeCom).
        field: String,
        /// The file name sent.
        filename: String,
        /// Content type of the file.
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// One HTTP request an adapter wants made.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    /// GET or POST.
    pub method: Method,
    /// The full URL, from the channel's configured `base_url` (never a hard-coded host).
    pub url: String,
    /// Query parameters (tokens included, e.g. WeCom `access_token`).
    pub query: Vec<(String, String)>,
    /// Headers (e.g. `x-wlk-Authorization`).
    pub headers: Vec<(String, String)>,
    /// HTTP Basic credentials (OAuth2 client credentials).
    pub basic_auth: Option<(String, String)>,
    /// The body.
    pub body: Body,
    /// Names of query parameters and headers whose values are secrets, redacted in logs.
    pub secret_names: Vec<String>,
}

impl UpstreamRequest {
    /// A POST of a JSON body.
    pub fn post_json(url: String, body: serde_json::Value) -> Self {
        Self {
            method: Method::Post,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            basic_auth: None,
            body: Body::Json(body),
            secret_names: Vec::new(),
        }
    }

    /// A GET with no body.
    pub fn get(url: String) -> Self {
        Self {
            method: Method::Get,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            basic_auth: None,
            body: Body::Empty,
            secret_names: Vec::new(),
        }
    }
}

/// The answer to a request that reached upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAnswer {
    /// HTTP status.
    pub http_status: u16,
    /// The raw body.
    pub body: Vec<u8>,
}

impl UpstreamAnswer {
    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the dispatcher needs from an answer: its meaning, the upstream's own words for the
/// attempt log, and whether the token that made the call must go.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// What the answer means.
    pub outcome: notify_core::Outcome,
    /// The upstream's message (its own field, read by the channel), else the outcome's own
    /// message, else `ok`.
    pub upstream_message: Option<String>,
    /// Whether the token that made the call is dropped: always on a refused token, and on the
    /// answers the channel says only a newer token fixes (WeLink's missing permission, `501`).
    pub drop_token: bool,
}

impl Settled {
    /// An outcome reached without an upstream answer (a transport failure, a local channel):
    /// its own message, and the token kept unless it was refused.
    pub fn without_answer(outcome: notify_core::Outcome) -> Self {
        Self::new(outcome, None, false)
    }

    /// `outcome` with the upstream's `message`; `drop_token` is forced on a refused token.
    pub fn new(outcome: notify_core::Outcome, message: Option<String>, drop_token: bool) -> Self {
        use notify_core::Outcome;
        let upstream_message = message.or_else(|| match &outcome {
            Outcome::Transient { message, .. }
            | Outcome::OutcomeUnknown { message }
            | Outcome::RateLimited { message, .. }
            | Outcome::TokenInvalid { message, .. }
            | Outcome::QuotaExhausted { message, .. }
            | Outcome::MediaExpired { message, .. }
            | Outcome::CredentialRejected { message, .. }
            | Outcome::Permanent { message, .. } => Some(message.clone()),
            _ => Some("ok".into()),
        });
        let drop_token = drop_token || matches!(outcome, Outcome::TokenInvalid { .. });
        Self {
            outcome,
            upstream_message,
            drop_token,
        }
    }
}

/// Media fetched by the dispatcher's guarded fetcher for an upload part.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedMedia {
    /// The file name (last path segment of the source URL).
    pub filename: String,
    /// The content type the source answered with.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// One part as the dispatcher hands it to the adapter.
#[derive(Debug, Clone, Copy)]
pub struct PartCall<'a> {
    /// What the part does.
    pub op: PartOp,
    /// The interface (path after `base_url`).
    pub interface: &'a str,
    /// The stored native body.
    pub body: &'a serde_json::Value,
    /// The members it reaches.
    pub recipients: &'a [String],
    /// The current token, for channels that use one.
    pub token: Option<&'a str>,
    /// The upstream id of the part this one depends on (an upload's `media_id`).
    pub dependency_id: Option<&'a str>,
    /// For uploads: the fetched file. An upload part's body names its source as
    /// `{"source_url": "...", "type": "image"|"file"|...}`; the dispatcher fetches it.
    pub media: Option<&'a FetchedMedia>,
    /// The delivery's context (from [`notify_core::Plan::context`]).
    pub context: &'a serde_json::Value,
    /// When the call is made (unix ms, the dispatcher's clock): bodies whose fields depend on
    /// the send time (Xiaowei's `endDate`, at most 7 days ahead of it) are completed from it.
    pub now_ms: i64,
    /// Attempts already spent on this part, for codes the documents say to retry only a few
    /// times (WeCom `-1`: at most 3 retries).
    pub attempts: i64,
}

/// What a token endpoint said.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenAnswer {
    /// A token, valid for `expires_in_s`; refresh it `refresh_ahead_s` before that.
    Issued {
        /// The token.
        token: String,
        /// Seconds it lives.
        expires_in_s: i64,
        /// Seconds before expiry to refresh (WeLink: 300).
        refresh_ahead_s: i64,
    },
    /// The credential is wrong or locked: stop fetching until an operator acts.
    Rejected {
        /// Upstream code.
        code: String,
        /// What the operator must fix.
        message: String,
    },
    /// Upstream rate-limited the token fetch: the lane pauses as for a send's rate limit, and
    /// no attempt is spent.
    RateLimited {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
        /// The first back-off step for this code (as [`notify_core::Outcome::RateLimited`]).
        initial_backoff: std::time::Duration,
    },
    /// Anything else: try again later.
    Failed {
        /// Upstream code.
        code: String,
        /// Why.
        message: String,
    },
}

/// What recalling a sent part takes.
#[derive(Debug, Clone, PartialEq)]
pub enum RecallPlan {
    /// This call recalls it.
    Call(PartPlan),
    /// The channel cannot recall it (Xiaowei; a Juzi message already sent).
    NotRecallable(String),
}

impl RecallPlan {
    /// A recall call on `interface` with `body`.
    pub fn call(interface: &str, body: serde_json::Value) -> Self {
        RecallPlan::Call(PartPlan {
            op: PartOp::Recall,
            interface: interface.to_string(),
            body,
            recipients: Vec::new(),
            depends_on: None,
        })
    }
}

/// A card state change (`POST /v1/messages/{id}/state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateUpdate {
    /// Chinese text, 2–5 characters.
    pub zh: String,
    /// English text, 2–10 characters.
    pub en: String,
    /// `gray` | `yellow` | `green`.
    pub color: StateColor,
}
