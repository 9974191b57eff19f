//! Extractors whose rejections are [`ApiError`]s: the raw body under the size limit, JSON with
//! the field path of a wrong shape, query strings and path parameters.

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{CONTENT_LENGTH, EXPECT};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::body_budget::{BodyBudget, BodyPermit};
use crate::error::ApiError;
use crate::state::AppState;

/// Most bytes of a refused body read and thrown away so that its client, still writing,
/// sees the answer instead of a reset connection; a larger body is not worth reading.
const DISCARD_MAX_BYTES: u64 = 32 * 1024 * 1024;
/// Longest time spent throwing a refused body away.
const DISCARD_TIME: Duration = Duration::from_secs(10);

/// The declared `Content-Length`, if any.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Throws away what is left of a refused request body, in the background.
///
/// The answer (401, 413, 503) goes out at once, without waiting for the body. A client that
/// writes its whole body before reading (most HTTP libraries do) would otherwise find the
/// connection closed under it: the server closes a connection whose body it did not read,
/// the unread bytes turn the close into a TCP reset, and the client sees "broken pipe"
/// instead of the answer. So up to [`DISCARD_MAX_BYTES`] are read and dropped (nothing is
/// kept: no memory is held) for at most [`DISCARD_TIME`]; a body declared larger, or a
/// client that waits for `100 Continue` and so has sent nothing yet, is not read at all.
pub fn discard(headers: &HeaderMap, body: Body) {
    let waits_for_continue = headers
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let too_long = content_length(headers).is_some_and(|n| n > DISCARD_MAX_BYTES);
    if waits_for_continue || too_long {
        return;
    }
    discard_stream(body.into_data_stream());
}

fn discard_stream(mut stream: BodyDataStream) {
    // Outside a runtime (never in the server) the body is simply dropped.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let _ = tokio::time::timeout(DISCARD_TIME, async move {
            let mut read = 0u64;
            while let Some(Ok(chunk)) = stream.next().await {
                read += chunk.len() as u64;
                if read > DISCARD_MAX_BYTES {
                    break;
                }
            }
        })
        .await;
    });
}

/// Reads a whole body, refusing it with 413 as soon as it passes `limit` bytes (before reading
/// anything when its `Content-Length` says so). Bodies read here are already in memory (or
/// were counted by [`read_body`]); nothing is reserved.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let unbounded = BodyBudget::unmetered(limit.max(1));
    read_body(headers, body, limit, &unbounded)
        .await
        .map(|(bytes, _)| bytes)
}

/// Reads a whole body of at most `limit` bytes within `budget`: 413 as soon as it passes the
/// limit (or the whole budget, which no body can exceed), 503 ([`ApiError::Busy`]) when the
/// budget has no room for it. The declared length is reserved before the first byte is read;
/// a body without one reserves each chunk as it arrives. What a refusal leaves unread is
/// [`discard`]ed. The bytes stay reserved until the returned permit is dropped.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, BodyPermit), ApiError> {
    let limit = limit.min(budget.total());
    let declared = content_length(headers);
    if declared.is_some_and(|len| len > limit as u64) {
        discard(headers, body);
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut permit = budget.empty();
    // Known to be within `limit` by the check above.
    let declared = declared.map(|n| n as usize);
    if let Some(len) = declared {
        if let Err(e) = permit.grow(len) {
            discard(headers, body);
            return Err(e);
        }
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        let len = buf.len() + chunk.len();
        if len > limit {
            discard_stream(stream);
            return Err(ApiError::PayloadTooLarge { limit });
        }
        if len > permit.held() {
            if let Err(e) = permit.grow(len - permit.held()) {
                discard_stream(stream);
                return Err(e);
            }
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), permit))
}

/// The request body as bytes, at most `max_body_bytes`.
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        read_limited(&parts.headers, body, state.config().max_body_bytes)
            .await
            .map(RawBody)
    }
}

/// A JSON body: a syntax error is 400, a wrong shape 422 naming the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON into `T`, naming the field of a shape error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::invalid(
                if path == "." { String::new() } else { path },
                "invalid",
                inner.to_string(),
            ),
            _ => ApiError::MalformedJson(inner.to_string()),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    Ok(value)
}

/// A query string; a bad one is 422 on `query`.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(ApiError::from)
    }
}

/// Path parameters; a bad one is 404.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(ApiError::from)
    }
}
