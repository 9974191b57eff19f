//! The signing schemes, as pure functions so other programs' signers can be checked against
//! them (the test vector is in the crate's README).
//!
//! Gateway scheme: `base64(HMAC-SHA256(secret, ak + "\n" + ts + "\n" + METHOD + "\n" +
//! path_and_query + "\n" + hex(SHA-256(body))))`.
//!
//! WeLink connector scheme: `base64(HMAC-SHA256(sk, ak + ts + METHOD + path))`, the path without
//! query and without a trailing `/`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The text the gateway scheme signs.
pub fn string_to_sign(
    access_key: &str,
    timestamp: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    format!(
        "{access_key}\n{timestamp}\n{}\n{path_and_query}\n{}",
        method.to_ascii_uppercase(),
        sha256_hex(body)
    )
}

/// HMAC-SHA256 of `message` under `secret`.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The `X-Signature` of a request under the gateway scheme.
pub fn sign(
    secret: &str,
    access_key: &str,
    timestamp: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    let text = string_to_sign(access_key, timestamp, method, path_and_query, body);
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), text.as_bytes()))
}

/// The path the connector scheme signs: no query, no trailing `/`.
pub fn connector_path(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or("");
    path.strip_suffix('/').unwrap_or(path)
}

/// The `x-connector-signature` of a request under the WeLink connector scheme.
pub fn connector_sign(
    secret: &str,
    access_key: &str,
    timestamp: &str,
    method: &str,
    path: &str,
) -> String {
    let text = format!(
        "{access_key}{timestamp}{}{}",
        method.to_ascii_uppercase(),
        connector_path(path)
    );
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), text.as_bytes()))
}

/// Constant-time comparison of a presented signature with an expected one (both base64).
pub fn same_signature(presented: &str, expected: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    match (engine.decode(presented.trim()), engine.decode(expected)) {
        (Ok(a), Ok(b)) => a.len() == b.len() && bool::from(a.ct_eq(&b)),
        _ => false,
    }
}

/// Constant-time comparison of two secrets (bearer tokens, hook tokens, acknowledge tags and
/// nonces); an empty `expected` matches nothing.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    // Hashes first: equal lengths, so the time taken says nothing about the expected length.
    !expected.is_empty()
        && bool::from(
            Sha256::digest(presented.as_bytes()).ct_eq(&Sha256::digest(expected.as_bytes())),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_vector_holds() {
        let sig = sign(
            "sk-test-0123456789",
            "AK-TEST",
            "1795428000000",
            "POST",
            "/v1/messages?dry=1",
            br#"{"title":"hi","targets":[{"channel":"logch"}]}"#,
        );
        assert_eq!(sig, README_SIGNATURE);
    }

    /// Kept in step with README.md.
    const README_SIGNATURE: &str = "pNib9JnRUOJ80rHXKdIY5V8bqxs2jPwr2sNzboew9E0=";

    #[test]
    fn the_readme_connector_vector_holds() {
        let sig = connector_sign(
            "sk-test-0123456789",
            "AK-TEST",
            "1795428000000",
            "post",
            "/v1/messages/",
        );
        assert_eq!(sig, "p36kyhcqdmUZwpTeW8HwIeLQ/RkK1gMu5hBrwgBGWS0=");
    }

    #[test]
    fn connector_path_drops_query_and_trailing_slash() {
        assert_eq!(connector_path("/v1/messages/?a=1"), "/v1/messages");
        assert_eq!(connector_path("/v1/messages"), "/v1/messages");
    }

    #[test]
    fn comparisons_refuse_garbage() {
        assert!(!same_signature("not base64!", "AAAA"));
        assert!(!same_secret("", ""));
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("abd", "abc"));
    }
}
