//! The work-ID platform's bearer token: OAuth2 client credentials (RFC 6749 §4.4; the document
//! calls it "客户端模式", 002_… line 13; UPSTREAM-FACTS lines 66–72).

use notify_core::Secret;

use crate::config::TokenAuth;
use crate::support::answer::{excerpt, issued, str_of};
use crate::{Body, Method, TokenAnswer, UpstreamAnswer, UpstreamRequest};

/// Used when the answer leaves `expires_in` out (it is optional in RFC 6749 §5.1).
const DEFAULT_EXPIRES_S: i64 = 3600;
/// Refresh this long before expiry, as for WeLink.
const REFRESH_AHEAD_S: i64 = 300;

/// An OAuth2 client.
#[derive(Debug, Clone)]
pub struct Client {
    /// The token endpoint.
    pub token_url: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Basic or form credentials.
    pub auth: TokenAuth,
}

/// `POST token_url` with `grant_type=client_credentials`, credentials by Basic or in the form.
pub fn request(c: &Client) -> UpstreamRequest {
    let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
    let mut basic_auth = None;
    match c.auth {
        TokenAuth::Basic => {
            basic_auth = Some((c.client_id.clone(), c.client_secret.expose().to_string()));
        }
        TokenAuth::Form => {
            form.push(("client_id".into(), c.client_id.clone()));
            form.push(("client_secret".into(), c.client_secret.expose().to_string()));
        }
    }
    UpstreamRequest {
        method: Method::Post,
        url: c.token_url.clone(),
        query: Vec::new(),
        headers: Vec::new(),
        basic_auth,
        body: Body::Form(form),
        secret_names: vec!["client_secret".into(), "Authorization".into()],
    }
}

/// Reads `{access_token, token_type, expires_in}` or an RFC 6749 §5.2 error.
pub fn parse(answer: &UpstreamAnswer) -> TokenAnswer {
    let v = answer.json();
    let status = answer.http_status;
    if (200..300).contains(&status) {
        if let Some(token) = str_of(&v, "access_token") {
            return issued(&v, token, DEFAULT_EXPIRES_S, REFRESH_AHEAD_S);
        }
    }
    let error = str_of(&v, "error").unwrap_or_else(|| status.to_string());
    let detail = str_of(&v, "error_description").unwrap_or_else(|| excerpt(answer));
    match status {
        // invalid_client (400 or 401), unauthorized_client, invalid_grant, invalid_scope,
        // unsupported_grant_type: a retry cannot help until the configuration changes.
        400 | 401 | 403 => TokenAnswer::Rejected {
            code: error.clone(),
            message: format!(
                "the token endpoint refused the client credentials ({error}): check client_id, client_secret and token_auth; {detail}"
            ),
        },
        429 => TokenAnswer::RateLimited {
            code: error,
            message: detail,
            initial_backoff: std::time::Duration::from_secs(1),
        },
        _ => TokenAnswer::Failed {
            code: error,
            message: format!("no access_token in the answer: {detail}"),
        },
    }
}
