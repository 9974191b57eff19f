//! The WeLink access token (000_… lines 425–510), shared by the `welink` and `xiaowei` kinds of
//! one `client_id`.

use notify_core::Secret;
use serde_json::json;

use crate::support::answer::{excerpt, issued, str_of};
use crate::support::classes::{lookup, rule, Class, Rule};
use crate::support::join_url;
use crate::support::settings::{non_blank, required, secret};
use crate::welink::config::BASE_URL;
use crate::ConfigError;
use crate::{TokenAnswer, UpstreamAnswer, UpstreamRequest};

/// `POST /auth/v2/tickets` (line 440).
pub const TICKETS: &str = "/auth/v2/tickets";

/// Cache for `expires_in - 300` s (line 489).
const REFRESH_AHEAD_S: i64 = 300;
/// Used when an answer leaves `expires_in` out (the documented example, line 476).
const DEFAULT_EXPIRES_S: i64 = 7200;

/// Token codes (lines 495–503).
const CODES: &[Rule] = &[
    rule("41500", Class::Transient, "WeLink could not issue the token (41500)"), // line 497
    rule(
        "41403",
        Class::CredentialRejected,
        "client_id locked after too many failed token fetches: wait, then check client_id/client_secret",
    ), // line 498
    rule("41579", Class::CredentialRejected, "client_id is empty: set client_id"), // line 499
    rule("41580", Class::CredentialRejected, "client_secret is empty: set client_secret"), // line 500
    rule(
        "10007",
        Class::CredentialRejected,
        "client_id or client_secret is wrong: fix them in the channel's config",
    ), // line 501
    rule("411145", Class::Transient, "WeLink system error (411145)"), // line 502
    rule(
        "48503",
        Class::RateLimited(1000),
        "WeLink rate limit (48503) on the token fetch",
    ), // lines 722–725
    // Xiaowei's rate-limit code (line 1631) is not listed for the token endpoint; should the
    // host answer a Xiaowei app's token fetch with it, it is still a rate limit, not a failure
    // to spend an attempt on.
    rule(
        "58602",
        Class::RateLimited(1000),
        "Xiaowei call frequency over the limit (58602) on the token fetch",
    ),
];

/// The WeLink credential.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Ends in `/api`.
    pub base_url: String,
    /// The app id.
    pub client_id: String,
    /// The app secret.
    pub client_secret: Secret,
}

impl Credentials {
    /// The credential of a WeLink-host channel (`welink`, `xiaowei`): `base_url` (WeLink's
    /// official root unset), `client_id`, `client_secret`.
    pub fn from_keys(
        name: &str,
        base_url: &Option<String>,
        client_id: &Option<String>,
        client_secret: &Option<Secret>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: non_blank(base_url).unwrap_or_else(|| BASE_URL.to_string()),
            client_id: required(name, "client_id", client_id)?,
            client_secret: secret(name, "client_secret", client_secret)?,
        })
    }
}

/// `POST {base_url}/auth/v2/tickets {client_id, client_secret}` (lines 448–455).
pub fn request(c: &Credentials) -> UpstreamRequest {
    let mut r = UpstreamRequest::post_json(
        join_url(&c.base_url, TICKETS),
        json!({"client_id": c.client_id, "client_secret": c.client_secret.expose()}),
    );
    r.secret_names = vec!["client_secret".into()];
    r
}

/// Reads the ticket answer (lines 472–479): `code` `"0"` with `access_token` and `expires_in`.
pub fn parse(answer: &UpstreamAnswer) -> TokenAnswer {
    let v = answer.json();
    let code = str_of(&v, "code");
    let token = str_of(&v, "access_token");
    match (code.as_deref(), token) {
        (Some("0") | None, Some(token)) if answer.http_status < 300 => {
            issued(&v, token, DEFAULT_EXPIRES_S, REFRESH_AHEAD_S)
        }
        (Some(code), _) => {
            let upstream = str_of(&v, "message").unwrap_or_default();
            match lookup(&[CODES], code) {
                Some(r) => {
                    let message = format!("{} (upstream: {upstream})", r.meaning);
                    let code = code.to_string();
                    match r.class {
                        Class::CredentialRejected => TokenAnswer::Rejected { code, message },
                        Class::RateLimited(ms) => TokenAnswer::RateLimited {
                            code,
                            message,
                            initial_backoff: std::time::Duration::from_millis(ms),
                        },
                        _ => TokenAnswer::Failed { code, message },
                    }
                }
                None => TokenAnswer::Failed {
                    code: code.to_string(),
                    message: format!("undocumented token code; answer: {}", excerpt(answer)),
                },
            }
        }
        (None, _) => TokenAnswer::Failed {
            code: answer.http_status.to_string(),
            message: format!("no token in the answer: {}", excerpt(answer)),
        },
    }
}
