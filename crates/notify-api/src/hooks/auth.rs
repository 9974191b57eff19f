//! A hook's token: `Authorization: Bearer <token>`, or the password of basic auth (what
//! Alertmanager's `http_config.basic_auth` and Grafana's contact point send), compared in
//! constant time. Alertmanager and Grafana cannot sign requests, so this is all they can do.

use axum::http::HeaderMap;
use base64::Engine;

use crate::auth::signature::same_secret;

/// The token a request presents, if any.
pub fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_user, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// True when the request carries the hook's token.
pub fn allowed(headers: &HeaderMap, token: &str) -> bool {
    presented(headers).is_some_and(|p| same_secret(&p, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn bearer_and_basic_passwords_are_read_and_others_refused() {
        assert!(allowed(&with("Bearer s3cret"), "s3cret"));
        assert!(allowed(&with("bearer s3cret"), "s3cret"));
        // "am:s3cret"
        assert!(allowed(&with("Basic YW06czNjcmV0"), "s3cret"));
        assert!(!allowed(&with("Bearer wrong"), "s3cret"));
        assert!(!allowed(&with("Basic !!!"), "s3cret"));
        assert!(!allowed(&with("Digest s3cret"), "s3cret"));
        assert!(!allowed(&HeaderMap::new(), "s3cret"));
    }
}
