//! The JS-SDK tickets `ww.register` needs in the native WeCom client (004_67cc803511621d4a.txt):
//! the corp `jsapi_ticket` (`GET /cgi-bin/get_jsapi_ticket`) and the app's agent-config ticket
//! (`GET /cgi-bin/ticket/get?type=agent_config`). Pure: the request to make and what its answer
//! means; the sidebar makes the call and caches the ticket.

use serde::Deserialize;

use crate::wecom_app::config::BASE_URL as WECOM_BASE_URL;
use crate::UpstreamRequest;

/// A ticket's lifetime when the answer gives none (7200 s, UPSTREAM-FACTS).
pub const DEFAULT_EXPIRES_S: i64 = 7200;

/// Which ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    /// The corp ticket (`ww.register`'s `getConfigSignature`).
    Corp,
    /// The app's agent-config ticket (`getAgentConfigSignature`).
    AgentConfig,
}

/// The ticket request of a `wecom_app` channel whose `base_url` is `base_url` (unset: WeCom's
/// official host), with `access_token`.
pub fn ticket_request(
    base_url: Option<&str>,
    kind: TicketKind,
    access_token: &str,
) -> UpstreamRequest {
    let base = base_url.unwrap_or(WECOM_BASE_URL).trim_end_matches('/');
    let url = match kind {
        TicketKind::Corp => format!("{base}/cgi-bin/get_jsapi_ticket"),
        TicketKind::AgentConfig => format!("{base}/cgi-bin/ticket/get"),
    };
    let mut r = UpstreamRequest::get(url);
    r.query.push(("access_token".into(), access_token.into()));
    if kind == TicketKind::AgentConfig {
        r.query.push(("type".into(), "agent_config".into()));
    }
    r.secret_names = vec!["access_token".into()];
    r
}

/// What a ticket answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketAnswer {
    /// The ticket and its lifetime in seconds.
    Issued {
        /// The ticket.
        ticket: String,
        /// Seconds it lives.
        expires_in_s: i64,
    },
    /// The access token is invalid, expired or missing (`40014`, `42001`, `41001`): drop it and
    /// ask again with a fresh one.
    TokenRefused {
        /// The code.
        code: i64,
        /// WeCom's `errmsg`.
        message: String,
    },
    /// Any other refusal.
    Refused {
        /// The code.
        code: i64,
        /// WeCom's `errmsg`.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    expires_in: i64,
}

/// Reads a ticket answer `{errcode, errmsg, ticket, expires_in}`; `Err` when it is not one.
pub fn parse_ticket(body: &[u8]) -> Result<TicketAnswer, serde_json::Error> {
    let raw: Raw = serde_json::from_slice(body)?;
    Ok(match raw.errcode {
        0 if !raw.ticket.is_empty() => TicketAnswer::Issued {
            ticket: raw.ticket,
            expires_in_s: if raw.expires_in > 0 {
                raw.expires_in
            } else {
                DEFAULT_EXPIRES_S
            },
        },
        code @ (40014 | 42001 | 41001) => TicketAnswer::TokenRefused {
            code,
            message: raw.errmsg,
        },
        code => TicketAnswer::Refused {
            code,
            message: raw.errmsg,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requests_name_the_documented_paths() {
        let r = ticket_request(None, TicketKind::Corp, "t");
        assert_eq!(
            r.url,
            "https://qyapi.weixin.qq.com/cgi-bin/get_jsapi_ticket"
        );
        assert_eq!(r.query, vec![("access_token".to_string(), "t".to_string())]);
        let r = ticket_request(Some("http://127.0.0.1:9/"), TicketKind::AgentConfig, "t");
        assert_eq!(r.url, "http://127.0.0.1:9/cgi-bin/ticket/get");
        assert_eq!(r.query[1], ("type".to_string(), "agent_config".to_string()));
    }

    #[test]
    fn answers_are_read() {
        assert_eq!(
            parse_ticket(br#"{"errcode":0,"ticket":"tk"}"#).unwrap(),
            TicketAnswer::Issued {
                ticket: "tk".into(),
                expires_in_s: 7200
            }
        );
        assert!(matches!(
            parse_ticket(br#"{"errcode":42001,"errmsg":"expired"}"#).unwrap(),
            TicketAnswer::TokenRefused { code: 42001, .. }
        ));
        // `0` without a ticket is no ticket.
        assert!(matches!(
            parse_ticket(br#"{"errcode":0}"#).unwrap(),
            TicketAnswer::Refused { code: 0, .. }
        ));
        assert!(parse_ticket(b"<html>").is_err());
    }
}
