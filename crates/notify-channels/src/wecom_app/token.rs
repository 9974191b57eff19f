//! The WeCom app token: `GET /cgi-bin/gettoken?corpid=&corpsecret=` (UPSTREAM-FACTS lines
//! 10–16), one per app secret.

use notify_core::Secret;

use crate::support::answer::{excerpt, issued, str_of};
use crate::support::classes::{lookup, Class};
use crate::support::join_url;
use crate::{TokenAnswer, UpstreamAnswer, UpstreamRequest};

use super::codes::CODES;

/// `GET /cgi-bin/gettoken`.
pub const GETTOKEN: &str = "/cgi-bin/gettoken";
/// Used when the answer leaves `expires_in` out (documented 7200, line 10).
const DEFAULT_EXPIRES_S: i64 = 7200;
/// Refresh ahead of expiry, so that `gettoken`'s own limit (45009, line 16) is rarely met.
const REFRESH_AHEAD_S: i64 = 300;

/// The app credential.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    /// `https://qyapi.weixin.qq.com` or a test double.
    pub base_url: String,
    /// `corpid`.
    pub corp_id: String,
    /// `corpsecret` (the app's secret).
    pub corp_secret: Secret,
}

/// The token request; both query values are treated as secrets in logs.
pub fn request(c: &AppCredentials) -> UpstreamRequest {
    let mut r = UpstreamRequest::get(join_url(&c.base_url, GETTOKEN));
    r.query = vec![
        ("corpid".into(), c.corp_id.clone()),
        ("corpsecret".into(), c.corp_secret.expose().to_string()),
    ];
    r.secret_names = vec!["corpid".into(), "corpsecret".into()];
    r
}

/// Reads `{errcode, errmsg, access_token, expires_in}`.
pub fn parse(answer: &UpstreamAnswer) -> TokenAnswer {
    let v = answer.json();
    let code = str_of(&v, "errcode");
    let message = str_of(&v, "errmsg").unwrap_or_default();
    match (code.as_deref(), str_of(&v, "access_token")) {
        (Some("0") | None, Some(token)) if answer.http_status < 300 => {
            issued(&v, token, DEFAULT_EXPIRES_S, REFRESH_AHEAD_S)
        }
        (Some(code), _) => {
            let code = code.to_string();
            match lookup(&[CODES], &code) {
                Some(r) => {
                    let message = format!("{} (upstream: {message})", r.meaning);
                    match r.class {
                        // A retry cannot fix a wrong id, secret or IP: stop until an operator acts
                        // (repeated wrong secrets get the IP blocked for an hour, line 15).
                        Class::CredentialRejected | Class::Permanent => {
                            TokenAnswer::Rejected { code, message }
                        }
                        Class::RateLimited(ms) => TokenAnswer::RateLimited {
                            code,
                            message,
                            initial_backoff: std::time::Duration::from_millis(ms),
                        },
                        _ => TokenAnswer::Failed { code, message },
                    }
                }
                None => TokenAnswer::Failed {
                    code,
                    message: format!("undocumented gettoken code: {}", excerpt(answer)),
                },
            }
        }
        (None, _) => TokenAnswer::Failed {
            code: answer.http_status.to_string(),
            message: format!("no access_token in the answer: {}", excerpt(answer)),
        },
    }
}
