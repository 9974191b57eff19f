//! The agent's session: a cookie holding who signed in (Juzi `botId`, `corpId`, `userId`), the
//! channel and tenant it may act for, a CSRF token and an expiry, signed with HMAC-SHA256 under
//! `server.session_secret`. Nothing is stored server-side, so every replica that shares the
//! secret accepts it.
//!
//! CSRF: every `/sidebar/api/` call must carry the header [`CSRF_HEADER`] equal to the
//! session's token. The token reaches the page only inside the page itself (a `<meta>` of the
//! HTML served to the signed-in agent), which another site cannot read, and a cross-site
//! request cannot set a custom header without a CORS preflight the gateway never grants. The
//! cookie is also `SameSite=Lax` and `HttpOnly`. An Origin check alone was not chosen: the
//! embedded browsers of the WeCom and Juzi clients do not reliably send `Origin`.

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The session cookie.
pub const SESSION_COOKIE: &str = "notify_sidebar";
/// The cookie that ties an OAuth `state` to the browser that started the sign-in.
pub const STATE_COOKIE: &str = "notify_sidebar_state";
/// The header every sidebar API call carries (the session's CSRF token).
pub const CSRF_HEADER: &str = "x-sidebar-csrf";

/// A signed-in agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The `juzi` channel signed in to.
    pub channel: String,
    /// Juzi hosted account id (`data.botId`).
    pub bot_id: String,
    /// WeCom corp id (`data.corpId`).
    pub corp_id: String,
    /// WeCom user id of the hosted account (`data.userId`).
    pub user_id: String,
    /// Display name (`data.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The only tenant whose messages it sees (the channel's `tenant`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The CSRF token.
    pub csrf: String,
    /// End of the session (unix ms).
    pub expires_at: i64,
}

type HmacSha256 = Hmac<Sha256>;

/// The domain that keeps sidebar cookies apart from other signed values under the same secret.
const DOMAIN: &str = "notify-sidebar-session.v1.";

fn mac(domain: &str, secret: &[u8], payload: &str) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut m = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    m.update(domain.as_bytes());
    m.update(payload.as_bytes());
    m
}

/// `value` signed for `domain`: `base64url(json) "." base64url(hmac(domain + payload))`. The
/// domain keeps values of one use (a sidebar session) from being accepted as another's (an
/// admin console session) when both are signed with `server.session_secret`.
pub fn seal_signed<T: Serialize>(domain: &str, value: &T, secret: &[u8]) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = URL_SAFE_NO_PAD.encode(mac(domain, secret, &payload).finalize().into_bytes());
    format!("{payload}.{tag}")
}

/// The value [`seal_signed`] sealed for `domain`, when its signature holds (compared in
/// constant time).
pub fn open_signed<T: serde::de::DeserializeOwned>(
    domain: &str,
    value: &str,
    secret: &[u8],
) -> Option<T> {
    let (payload, tag) = value.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(domain, secret, payload).verify_slice(&tag).ok()?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The cookie value of `session`: `base64url(json) "." base64url(hmac)`.
pub fn seal(session: &Session, secret: &[u8]) -> String {
    seal_signed(DOMAIN, session, secret)
}

/// The session of a cookie value, when its signature holds (compared in constant time) and it
/// has not expired at `now_ms`.
pub fn open(value: &str, secret: &[u8], now_ms: i64) -> Option<Session> {
    let session: Session = open_signed(DOMAIN, value, secret)?;
    (now_ms < session.expires_at).then_some(session)
}

/// A `Set-Cookie` value for the sidebar's path: `HttpOnly`, `SameSite=Lax`, `Secure` over
/// https. `max_age_s = 0` deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_s: u64, secure: bool) -> String {
    cookie(name, value, "/sidebar", "Lax", max_age_s, secure)
}

/// A `Set-Cookie` value: `HttpOnly`, for `path`, with `SameSite=same_site`, `Secure` when
/// `secure`. `max_age_s = 0` deletes the cookie.
pub fn cookie(
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age_s: u64,
    secure: bool,
) -> String {
    let mut c =
        format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite={same_site}");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The value of cookie `name` in a request.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `n` random characters of `[a-zA-Z0-9]` (OAuth states, CSRF tokens, nonces).
pub fn random_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// True when `a` and `b` are equal, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Session {
        Session {
            channel: "juzi".into(),
            bot_id: "b1".into(),
            corp_id: "ww1".into(),
            user_id: "u1".into(),
            name: Some("句子".into()),
            tenant: None,
            csrf: random_alnum(32),
            expires_at: 2_000,
        }
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires() {
        let s = sample();
        let v = seal(&s, b"k");
        assert_eq!(open(&v, b"k", 1_999), Some(s));
        assert_eq!(open(&v, b"k", 2_000), None);
    }

    #[test]
    fn a_forged_or_foreign_cookie_is_refused() {
        let v = seal(&sample(), b"k");
        assert_eq!(open(&v, b"other", 0), None);
        let (payload, tag) = v.split_once('.').unwrap();
        let mut forged = sample();
        forged.bot_id = "b2".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(open(&format!("{forged_payload}.{tag}"), b"k", 0), None);
        assert_eq!(open(payload, b"k", 0), None);
        assert_eq!(open("", b"k", 0), None);
    }

    #[test]
    fn a_value_signed_for_one_domain_does_not_open_for_another() {
        let s = sample();
        let sidebar = seal(&s, b"k");
        assert_eq!(
            open_signed::<Session>("notify-console-session.v1.", &sidebar, b"k"),
            None
        );
        let other = seal_signed("other.", &s, b"k");
        assert_eq!(open(&other, b"k", 0), None);
        assert_eq!(open_signed::<Session>("other.", &other, b"k"), Some(s));
    }

    #[test]
    fn cookies_are_read_and_flagged() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; notify_sidebar=xyz.q; b=2".parse().unwrap());
        assert_eq!(read_cookie(&h, SESSION_COOKIE), Some("xyz.q"));
        assert_eq!(read_cookie(&h, STATE_COOKIE), None);
        let c = set_cookie(SESSION_COOKIE, "v", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false).contains("Secure"));
    }
}
