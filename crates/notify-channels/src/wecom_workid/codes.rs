//! Work-ID platform answers → [`Outcome`]. The document (002_… line 13) gives every answer as
//! `{code, msg, data, requestId, ok}` and lists no error codes: success is `code == 0 && ok ==
//! true` (UPSTREAM-FACTS line 72); the class of a failure comes from the HTTP status.

use std::time::Duration;

use notify_core::Outcome;

use crate::support::answer::{excerpt, str_of};
use crate::support::classes::unknown;
use crate::UpstreamAnswer;

/// The outcome of a send or recall answer; a send's id is `data.msgId`.
pub fn classify(answer: &UpstreamAnswer) -> Outcome {
    let status = answer.http_status;
    let raw = excerpt(answer);
    match status {
        // The bearer token was refused (contract §5: work-ID 401).
        401 => {
            return Outcome::TokenInvalid {
                code: "401".into(),
                message: format!("the platform refused the bearer token: {raw}"),
            }
        }
        429 => {
            return Outcome::RateLimited {
                code: "429".into(),
                message: format!("the platform is rate limiting: {raw}"),
                initial_backoff: Duration::from_secs(1),
            }
        }
        500..=599 => {
            return Outcome::Transient {
                code: status.to_string(),
                message: raw,
            }
        }
        // 400, 403, 404…: the request itself is wrong (a parameter, a path, a permission).
        400..=499 => {
            return Outcome::Permanent {
                code: status.to_string(),
                message: format!("the platform refused the request: {raw}"),
            }
        }
        _ => {}
    }
    let v = answer.json();
    let code = str_of(&v, "code");
    // `ok` is a JSON boolean in the document; read leniently, as every field (contract §5).
    let ok = str_of(&v, "ok").is_some_and(|s| s.eq_ignore_ascii_case("true"));
    match code.as_deref() {
        Some("0") if ok => Outcome::Sent {
            upstream_id: v.get("data").and_then(|d| str_of(d, "msgId")),
            failed_recipients: Vec::new(),
        },
        // Every answer of the document (002_… line 13) pairs `code: 0` with `ok: true`. A `0`
        // without it says the platform took the call and yet did not confirm it: the message
        // may be out, and sending it again could show it twice. It fails, once, with the
        // answer kept; it is never sent again.
        Some("0") => Outcome::Permanent {
            code: "0".into(),
            message: format!(
                "the platform answered code 0 without ok: true; it may have sent the message, so it is not sent again: {raw}"
            ),
        },
        // The envelope mirrors HTTP statuses in `code` (HTTP 200 with `code: 401`): the same
        // classes as the statuses above (contract §5: work-ID 401 is a token to refresh).
        Some("401") => Outcome::TokenInvalid {
            code: "401".into(),
            message: format!("the platform refused the bearer token: {raw}"),
        },
        Some("429") => Outcome::RateLimited {
            code: "429".into(),
            message: format!("the platform is rate limiting: {raw}"),
            initial_backoff: Duration::from_secs(1),
        },
        // A refused field (HTTP 200 with `code: 400`), and 81013, WeCom's "every recipient is
        // unknown" (UPSTREAM-FACTS: fail, no retry): sending the same request again cannot
        // succeed.
        Some(c) if c == "81013" || c.parse::<u16>().is_ok_and(|n| (400..=499).contains(&n)) => {
            Outcome::Permanent {
                code: c.to_string(),
                message: format!("the platform refused the request: {raw}"),
            }
        }
        Some(c) => unknown(c, raw),
        None => unknown("none", raw),
    }
}
