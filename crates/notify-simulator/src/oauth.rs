//! `POST /oauth/token`: the work-ID platform's OAuth2 client-credentials grant (RFC 6749 §4.4,
//! UPSTREAM-FACTS). Credentials by HTTP Basic or in the form body; answer
//! `{access_token, token_type: "Bearer", expires_in}`, errors 400/401 `{error}`.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::json;

use crate::apps::{AppKind, SecretCheck};
use crate::reply::{Incoming, Reply};
use crate::workid::Bearer;
use crate::{ids, Inner};

fn error(status: StatusCode, error: &str, description: &str) -> Reply {
    let mut r = Reply::json(
        status,
        json!({"error": error, "error_description": description}),
        error,
    );
    r.headers.push(("cache-control", "no-store".into()));
    if status == StatusCode::UNAUTHORIZED {
        r.headers.push((
            "www-authenticate",
            "Basic realm=\"notify-simulator\"".into(),
        ));
    }
    r
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic(inc: &Incoming) -> Option<(String, String)> {
    let h = inc.header("authorization")?;
    let (scheme, value) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

pub(crate) fn token(sim: &Inner, inc: &Incoming) -> Reply {
    let is_form = inc
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&inc.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match get("grant_type") {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
    }
    let from_form = match (get("client_id"), get("client_secret")) {
        (Some(i), Some(s)) => Some((i.to_owned(), s.to_owned())),
        _ => None,
    };
    let basic = basic(inc);
    if basic.is_some() && from_form.is_some() {
        // RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request".
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "credentials given both by HTTP Basic and in the body",
        );
    }
    let Some((id, secret)) = basic
        .or(from_form)
        .filter(|(i, s)| !i.is_empty() && !s.is_empty())
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication missing",
        );
    };
    if sim.apps.check(AppKind::Oauth, &id, &secret) != SecretCheck::Ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let ttl = sim.modes.read().oauth_token_ttl_s;
    let token = ids::url_safe(40);
    sim.workid.tokens.write().insert(
        token.clone(),
        Bearer {
            client_id: id.clone(),
            expires_ms: inc.now_ms + ttl * 1000,
            revoked: false,
        },
    );
    let mut r = Reply::json(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl}),
        "0",
    )
    .client(Some(&id));
    r.headers.push(("cache-control", "no-store".into()));
    r
}
