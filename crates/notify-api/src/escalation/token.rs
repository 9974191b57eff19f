//! The acknowledge link's token: the message id and an HMAC-SHA256 of it with the server's
//! secret (`server.session_secret`), so every replica that shares the secret verifies it and
//! nothing is stored. One token per message; the page's form nonce is derived from it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use notify_core::MessageId;

use crate::auth::signature::{hmac_sha256, same_secret};

/// Separates the uses of the secret, so an acknowledge token is never a valid session cookie
/// or form nonce, nor the other way round.
const TOKEN_DOMAIN: &[u8] = b"notify-gateway ack link v1\0";
const NONCE_DOMAIN: &[u8] = b"notify-gateway ack form v1\0";

/// The tag of `data` for one use of the secret, as the link and the form carry it.
fn tag(domain: &[u8], secret: &[u8], data: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(secret, &[domain, data.as_bytes()].concat()))
}

/// The token of message `message_id`: `msg_….{tag}`.
pub fn sign(secret: &[u8], message_id: &str) -> String {
    format!("{message_id}.{}", tag(TOKEN_DOMAIN, secret, message_id))
}

/// The message id a token was signed for; `None` for a malformed or forged token (compared in
/// constant time).
pub fn verify(secret: &[u8], token: &str) -> Option<String> {
    let (id, given) = token.split_once('.')?;
    MessageId::parse(id)?;
    same_secret(given, &tag(TOKEN_DOMAIN, secret, id)).then(|| id.to_string())
}

/// The nonce the page's form carries: only a page the gateway served for this token has it,
/// so another site cannot make a browser acknowledge by posting to the link (CSRF).
pub fn form_nonce(secret: &[u8], token: &str) -> String {
    tag(NONCE_DOMAIN, secret, token)
}

/// Whether `given` is the form nonce of `token` (constant time).
pub fn nonce_matches(secret: &[u8], token: &str, given: &str) -> bool {
    same_secret(given, &form_nonce(secret, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_with_its_secret_only() {
        let id = MessageId::new_at(1_700_000_000_000).0;
        let t = sign(b"secret", &id);
        assert_eq!(verify(b"secret", &t).as_deref(), Some(id.as_str()));
        assert_eq!(verify(b"other", &t), None);
        let forged = format!(
            "{}{}",
            &t[..t.len() - 1],
            if t.ends_with('A') { 'B' } else { 'A' }
        );
        assert_eq!(verify(b"secret", &forged), None);
        assert_eq!(verify(b"secret", "msg_x.abc"), None);
        assert_eq!(verify(b"secret", "nonsense"), None);
    }

    #[test]
    fn the_form_nonce_is_bound_to_the_token() {
        let t = sign(b"s", &MessageId::new_at(1).0);
        let n = form_nonce(b"s", &t);
        assert!(nonce_matches(b"s", &t, &n));
        assert!(!nonce_matches(b"s", &t, "x"));
        assert!(!nonce_matches(b"other", &t, &n));
    }
}
