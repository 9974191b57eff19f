//! Settings of the API: body limit, default TTL, callers (`[[auth.clients]]`, contract §2) and
//! ingress batching.

use notify_core::Secret;
use serde::Deserialize;

/// What the API needs from the gateway's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body accepted (`server.max_body_bytes`); larger bodies answer 413.
    pub max_body_bytes: usize,
    /// Most bytes all request bodies being read or handled may hold together
    /// (`server.max_inflight_body_bytes`); a body that does not fit answers 503 with
    /// `Retry-After`, one larger than the whole budget 413.
    pub max_inflight_body_bytes: usize,
    /// Serve `/metrics`, `/openapi.json` and `/docs` from [`crate::router`]. False when
    /// `server.metrics_listen` gives them a listener of their own
    /// ([`crate::routes::operator_router`]).
    pub operator_routes_on_api: bool,
    /// `expires_at` of a message that has none, and the deadline of recalls, state updates and
    /// admin retries (`delivery.default_ttl`).
    pub default_ttl_ms: i64,
    /// Callers of the API. With none, every `/v1` request is refused with 401.
    pub clients: Vec<ClientConfig>,
    /// How far a signed request's timestamp may be from the server's clock (300 000 ms).
    pub signature_window_ms: i64,
    /// Most messages committed in one store transaction by the group committer.
    pub commit_batch_max: usize,
    /// Test hook: hold every answer this long after its message is committed, so a crash test
    /// can kill the process between the commit and the answer deterministically (set by the
    /// binary from `NOTIFY_TEST_PAUSE_AFTER_COMMIT_MS`; `None` in production).
    pub pause_after_commit: Option<std::time::Duration>,
    /// Alert sources (`[hooks.NAME]`, contract §6), checked by [`crate::hooks::Hooks::new`]
    /// (the binary does so at start-up, so a bad table stops it with the key's name).
    pub hooks: std::collections::BTreeMap<String, crate::hooks::HookConfig>,
    /// Where browsers reach the gateway (`server.public_url`, or `http://{listen}`): the
    /// acknowledge links of messages with escalation start with it.
    pub public_url: String,
    /// The key that signs acknowledge links (`server.session_secret`). Replicas must share it,
    /// and a link stays valid while it is kept.
    pub ack_secret: Vec<u8>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 262_144,
            max_inflight_body_bytes: 64 * 1024 * 1024,
            operator_routes_on_api: true,
            default_ttl_ms: 24 * 3600 * 1000,
            clients: Vec::new(),
            signature_window_ms: 300_000,
            commit_batch_max: 256,
            pause_after_commit: None,
            hooks: std::collections::BTreeMap::new(),
            public_url: "http://localhost:8080".into(),
            ack_secret: random_secret(),
        }
    }
}

/// A key for this process alone, when none is configured: links it signs end at restart.
fn random_secret() -> Vec<u8> {
    (0..4)
        .flat_map(|_| ulid::Ulid::new().0.to_le_bytes())
        .collect()
}

/// One caller of the API (`[[auth.clients]]`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The caller's name, shown in logs and stored with its messages.
    pub name: String,
    /// The public key id (`X-Access-Key`).
    pub access_key: String,
    /// HMAC secret; also accepted as a bearer token.
    pub secret_key: Secret,
    /// The previous secret, still accepted during a rotation (empty: none).
    #[serde(default, deserialize_with = "empty_secret_is_none")]
    pub previous_secret_key: Option<Secret>,
    /// The tenant whose messages this caller sees.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// `send`, `recall`, `read`, `admin` (admin: every scope and every tenant).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Requests per second that change something (0: no limit); over it: 429.
    #[serde(default)]
    pub max_per_second: u32,
    /// Also accept the WeLink connector AK/SK headers (they sign no body).
    #[serde(default)]
    pub connector_signing: bool,
}

fn default_tenant() -> String {
    "default".into()
}

fn empty_secret_is_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Secret>, D::Error> {
    let s: Option<Secret> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_table_reads_with_defaults_and_an_empty_previous_secret_is_none() {
        let c: ClientConfig = serde_json::from_str(
            r#"{"name":"monitoring","access_key":"AK1","secret_key":"sk","previous_secret_key":""}"#,
        )
        .expect("parses");
        assert!(c.previous_secret_key.is_none());
        assert_eq!(c.tenant, "default");
        assert_eq!(c.max_per_second, 0);
        assert!(!c.connector_signing);
        assert!(serde_json::from_str::<ClientConfig>(
            r#"{"name":"x","access_key":"a","secret_key":"s","scope":[]}"#
        )
        .is_err());
    }
}
