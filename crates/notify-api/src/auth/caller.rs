//! The caller of a `/v1` request: found from its credential by the [`authenticate`] middleware
//! and handed to handlers as the [`Caller`] extractor.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::limit::ClientLimiter;
use crate::auth::signature;
use crate::body_budget::BodyPermit;
use crate::config::ClientConfig;
use crate::error::ApiError;
use crate::extract::{discard, read_body};
use crate::state::AppState;

/// Whose a message is: the tenant it belongs to and the name it is stored under (a client's
/// name, `hook:NAME`, or a digest's lead's caller).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The name.
    pub name: &'a str,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client's name.
    pub name: String,
    /// Its access key (safe to log).
    pub access_key: String,
    /// Its tenant.
    pub tenant: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl Caller {
    /// True with the `admin` scope: every scope, every tenant.
    pub fn is_admin(&self) -> bool {
        self.scopes.iter().any(|s| s == "admin")
    }

    /// 403 unless the caller holds `scope` (or `admin`).
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.is_admin() || self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            tracing::warn!(access_key = %self.access_key, scope, "refused: missing scope");
            Err(ApiError::MissingScope(scope.to_string()))
        }
    }

    /// The tenant whose rows the caller may see; `None` for admins (all).
    pub fn tenant_filter(&self) -> Option<&str> {
        if self.is_admin() {
            None
        } else {
            Some(&self.tenant)
        }
    }

    /// The tenant whose `what` (`messages`, `alerts`) a listing reads, from its `?tenant=`:
    /// the caller's own, or for an admin the one named (`None`: every tenant). 403 when
    /// another caller names another tenant.
    pub fn tenant_to_read(
        &self,
        asked: Option<&str>,
        what: &str,
    ) -> Result<Option<String>, ApiError> {
        let asked = asked.filter(|t| !t.is_empty());
        match (self.tenant_filter(), asked) {
            (None, asked) => Ok(asked.map(str::to_string)),
            (Some(own), Some(other)) if other != own => {
                tracing::warn!(access_key = %self.access_key, tenant = other, "refused: another tenant's {what}");
                Err(ApiError::Forbidden(format!(
                    "tenant: only an admin reads another tenant's {what}"
                )))
            }
            (Some(own), _) => Ok(Some(own.to_string())),
        }
    }

    /// Whose the caller's messages are.
    pub fn owner(&self) -> Owner<'_> {
        Owner {
            tenant: &self.tenant,
            name: &self.name,
        }
    }

    /// True when the caller may act on a row of `tenant`.
    pub fn may_see(&self, tenant: &str) -> bool {
        self.is_admin() || self.tenant == tenant
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("no credentials".into()))
    }
}

struct Entry {
    config: ClientConfig,
    limiter: ClientLimiter,
}

/// The configured callers.
pub struct Clients {
    entries: Vec<Entry>,
    by_key: HashMap<String, usize>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("count", &self.entries.len())
            .finish()
    }
}

impl Clients {
    /// Indexes the callers. A caller without a secret can never sign in (an empty HMAC key is
    /// no secret) and is left out with a warning; so is a repeated access key.
    pub fn new(clients: Vec<ClientConfig>) -> Self {
        let mut entries = Vec::new();
        let mut by_key = HashMap::new();
        for c in clients {
            if c.secret_key.is_empty() || c.access_key.is_empty() {
                tracing::warn!(client = %c.name, "auth client without access_key or secret_key ignored");
                continue;
            }
            if by_key.contains_key(&c.access_key) {
                tracing::warn!(client = %c.name, access_key = %c.access_key, "duplicate access_key ignored");
                continue;
            }
            by_key.insert(c.access_key.clone(), entries.len());
            entries.push(Entry {
                limiter: ClientLimiter::new(c.max_per_second),
                config: c,
            });
        }
        Self { entries, by_key }
    }

    /// True when no caller can sign in.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn caller(&self, i: usize) -> Caller {
        let c = &self.entries[i].config;
        Caller {
            name: c.name.clone(),
            access_key: c.access_key.clone(),
            tenant: c.tenant.clone(),
            scopes: c.scopes.clone(),
        }
    }

    fn secrets(&self, i: usize) -> impl Iterator<Item = &str> {
        let c = &self.entries[i].config;
        std::iter::once(c.secret_key.expose())
            .chain(c.previous_secret_key.iter().map(|s| s.expose()))
            .filter(|s| !s.is_empty())
    }

    /// Finds the caller a request's headers name, before any of its body is read: a bearer
    /// token, a connector signature (which signs no body) and an unknown access key or a stale
    /// timestamp are settled here; a gateway signature, which covers the body, is left for
    /// [`Clients::verify`].
    fn claim(
        &self,
        headers: &HeaderMap,
        method: &Method,
        path_and_query: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<Claim, ApiError> {
        let h = |name: &str| -> Result<Option<&str>, ApiError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.trim()))
                    .map_err(|_| refuse("?", &format!("unreadable {name} header"))),
            }
        };
        if let Some(ak) = h("x-access-key")? {
            let ts = h("x-timestamp")?.ok_or_else(|| refuse(ak, "missing X-Timestamp"))?;
            let sig = h("x-signature")?.ok_or_else(|| refuse(ak, "missing X-Signature"))?;
            let i = *self
                .by_key
                .get(ak)
                .ok_or_else(|| refuse(ak, "unknown access key"))?;
            check_timestamp(ak, ts, now_ms, window_ms)?;
            return Ok(Claim::Signed {
                i,
                access_key: ak.to_string(),
                timestamp: ts.to_string(),
                signature: sig.to_string(),
            });
        }
        if let Some(ak) = h("x-connector-accesskeyid")? {
            let ts = h("x-connector-signature-timestamp")?
                .ok_or_else(|| refuse(ak, "missing x-connector-signature-timestamp"))?;
            let sig = h("x-connector-signature")?
                .ok_or_else(|| refuse(ak, "missing x-connector-signature"))?;
            let i = *self
                .by_key
                .get(ak)
                .ok_or_else(|| refuse(ak, "unknown access key"))?;
            if !self.entries[i].config.connector_signing {
                return Err(refuse(ak, "connector signing is off for this client"));
            }
            check_timestamp(ak, ts, now_ms, window_ms)?;
            let path = path_and_query.split('?').next().unwrap_or("");
            let ok = self.secrets(i).any(|secret| {
                let expected = signature::connector_sign(secret, ak, ts, method.as_str(), path);
                signature::same_signature(sig, &expected)
            });
            if !ok {
                return Err(refuse(ak, "bad connector signature"));
            }
            return Ok(Claim::Known(i, self.caller(i), Some(format!("con:{sig}"))));
        }
        if let Some(auth) = h("authorization")? {
            let token = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .ok_or_else(|| refuse("-", "unsupported Authorization scheme"))?
                .trim();
            // Every secret is compared, so the time taken does not say which one matched.
            let mut found = None;
            for i in 0..self.entries.len() {
                for secret in self.secrets(i) {
                    if signature::same_secret(token, secret) && found.is_none() {
                        found = Some(i);
                    }
                }
            }
            let i = found.ok_or_else(|| refuse("-", "unknown bearer token"))?;
            return Ok(Claim::Known(i, self.caller(i), None));
        }
        Err(ApiError::Unauthenticated(
            "credentials required: X-Access-Key/X-Timestamp/X-Signature or Authorization: Bearer"
                .into(),
        ))
    }

    /// Settles a claim with the body: checks a gateway signature. Returns the caller, its
    /// index and the replay key of a signed request.
    fn verify(
        &self,
        claim: Claim,
        method: &Method,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(usize, Caller, Option<String>), ApiError> {
        match claim {
            Claim::Known(i, caller, replay_key) => Ok((i, caller, replay_key)),
            Claim::Signed {
                i,
                access_key: ak,
                timestamp: ts,
                signature: sig,
            } => {
                let ok = self.secrets(i).any(|secret| {
                    let expected =
                        signature::sign(secret, &ak, &ts, method.as_str(), path_and_query, body);
                    signature::same_signature(&sig, &expected)
                });
                if !ok {
                    return Err(refuse(&ak, "bad signature"));
                }
                Ok((i, self.caller(i), Some(format!("sig:{sig}"))))
            }
        }
    }

    fn check_limit(&self, i: usize) -> Result<(), ApiError> {
        self.entries[i].limiter.check().map_err(|retry_after_s| {
            tracing::warn!(access_key = %self.entries[i].config.access_key, "refused: rate limited");
            ApiError::RateLimited { retry_after_s }
        })
    }
}

/// Who a request's headers say is calling.
enum Claim {
    /// Settled from the headers alone: index, caller, replay key.
    Known(usize, Caller, Option<String>),
    /// A known access key whose gateway signature, which covers the body, is still to check.
    Signed {
        i: usize,
        access_key: String,
        timestamp: String,
        signature: String,
    },
}

fn refuse(access_key: &str, reason: &str) -> ApiError {
    tracing::warn!(access_key, reason, "refused: authentication");
    ApiError::Unauthenticated(reason.to_string())
}

fn check_timestamp(ak: &str, ts: &str, now_ms: i64, window_ms: i64) -> Result<(), ApiError> {
    let t: i64 = ts
        .parse()
        .map_err(|_| refuse(ak, "the timestamp must be unix milliseconds"))?;
    if t.checked_sub(now_ms).is_none_or(|d| d.abs() > window_ms) {
        return Err(refuse(
            ak,
            "the timestamp is too far from the server's clock",
        ));
    }
    Ok(())
}

/// The batch ingress route, whose body limit is larger.
const BATCH_PATH: &str = "/v1/messages/batch";

/// True for requests that change something: these pass the rate limit and the replay guard.
fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware of every `/v1` route: identifies the caller from the headers (401, before any
/// of the body is read), reads the body within the route's limit (413) and the budget of
/// bodies in flight (503), checks a signature over it (401), applies the caller's rate limit to
/// requests that change something (429) and refuses a signed request seen before (409). The
/// handler finds the [`Caller`] in the request. The body's bytes stay counted against the
/// budget until the answer is made.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match admit(&state, req).await {
        Ok((req, permit)) => {
            let resp = next.run(req).await;
            drop(permit);
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn admit(state: &AppState, req: Request) -> Result<(Request, BodyPermit), ApiError> {
    let (mut parts, body) = req.into_parts();
    let clients = state.clients();
    if clients.is_empty() {
        tracing::warn!("refused: no API clients are configured");
        discard(&parts.headers, body);
        return Err(ApiError::Unauthenticated(
            "no API clients are configured".into(),
        ));
    }
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let store = state.store();
    let window = state.config().signature_window_ms;
    let claim = match clients.claim(
        &parts.headers,
        &parts.method,
        &path_and_query,
        store.now_ms(),
        window,
    ) {
        Ok(claim) => claim,
        Err(e) => {
            discard(&parts.headers, body);
            return Err(e);
        }
    };
    // A batch carries up to 1,000 messages; each is held to max_body_bytes on its own.
    let limit = if parts.uri.path() == BATCH_PATH {
        crate::routes::batch::batch_body_limit(state.config().max_body_bytes)
    } else {
        state.config().max_body_bytes
    };
    let (bytes, permit) = read_body(&parts.headers, body, limit, state.body_budget()).await?;
    let (i, caller, replay_key) = clients.verify(claim, &parts.method, &path_and_query, &bytes)?;
    if is_mutating(&parts.method) {
        clients.check_limit(i)?;
        if let Some(key) = replay_key {
            if !store.outbox().remember_signature(&key, window).await? {
                tracing::warn!(access_key = %caller.access_key, "refused: replayed request");
                return Err(ApiError::ReplayedRequest);
            }
        }
    }
    parts.extensions.insert(caller);
    Ok((Request::from_parts(parts, Body::from(bytes)), permit))
}
