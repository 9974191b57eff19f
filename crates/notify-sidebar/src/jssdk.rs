//! Server-side signatures for `ww.register` in the native WeCom client (004_67cc803511621d4a.txt:
//! "用于生成签名的 jsapi_ticket 属于敏感信息,请在服务端完成签名操作"). The corp signature uses the corp
//! `jsapi_ticket` (`GET /cgi-bin/get_jsapi_ticket`), the agent signature the app ticket
//! (`GET /cgi-bin/ticket/get?type=agent_config`); both are SHA-1 of
//! `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` with the url cut at `#` (UPSTREAM-FACTS).
//!
//! Tickets live 7200 s. Each is cached in the store's `tokens` table under its own credential
//! key (`wecom_app:{corp}:{agent}#jsapi`, `…#agent_config`), shared by every replica and
//! fetched by one caller at a time through the same fetch lease as access tokens; the access
//! token for the ticket call comes from the dispatcher's [`TokenManager`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use notify_channels::wecom_app::jssdk::{parse_ticket, ticket_request, TicketAnswer};
use notify_channels::ChannelHandle;
use notify_store::Store;
use notify_upstream::http::error_text;
use notify_upstream::tokens::{TokenError, TokenManager};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::SidebarError;

/// One signature as `ww.register`'s callbacks return it: `{timestamp, nonceStr, signature}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiSignature {
    /// Unix seconds.
    pub timestamp: i64,
    /// The nonce signed.
    pub nonce_str: String,
    /// Lower-case hex SHA-1.
    pub signature: String,
}

/// The JS-SDK signature of `url` (its `#fragment` dropped) with `ticket`.
pub fn jsapi_signature(ticket: &str, nonce: &str, timestamp: i64, url: &str) -> JsapiSignature {
    let url = url.split('#').next().unwrap_or(url);
    let plain = format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}");
    JsapiSignature {
        timestamp,
        nonce_str: nonce.to_string(),
        signature: hex::encode(Sha1::digest(plain.as_bytes())),
    }
}

pub use notify_channels::wecom_app::jssdk::TicketKind;

/// The ticket's key in the store's `tokens` table, after the channel's credential.
fn suffix(kind: TicketKind) -> &'static str {
    match kind {
        TicketKind::Corp => "#jsapi",
        TicketKind::AgentConfig => "#agent_config",
    }
}

/// Tickets, cached in memory and in the store.
pub(crate) struct TicketCache {
    store: Store,
    http: reqwest::Client,
    tokens: TokenManager,
    owner: String,
    memory: Mutex<HashMap<String, (String, i64)>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl TicketCache {
    pub(crate) fn new(
        store: Store,
        http: reqwest::Client,
        tokens: TokenManager,
        owner: String,
    ) -> Self {
        Self {
            store,
            http,
            tokens,
            owner,
            memory: Mutex::default(),
            locks: Mutex::default(),
        }
    }

    /// A valid ticket of `kind` for the `wecom_app` channel `app`.
    pub(crate) async fn ticket(
        &self,
        app: &ChannelHandle,
        kind: TicketKind,
    ) -> Result<String, SidebarError> {
        let key = format!("{}{}", app.adapter.credential(), suffix(kind));
        if let Some(t) = self.fresh_in_memory(&key) {
            return Ok(t);
        }
        let lock = self.locks.lock().entry(key.clone()).or_default().clone();
        let _one_at_a_time = lock.lock().await;
        if let Some(t) = self.fresh_in_memory(&key) {
            return Ok(t);
        }
        let mut waited = Duration::ZERO;
        loop {
            let row = self.store.tokens().token(&key).await?;
            let now = self.store.now_ms();
            if let Some(t) = row.token.as_ref().filter(|_| now < row.refresh_at) {
                self.memory
                    .lock()
                    .insert(key.clone(), (t.clone(), row.refresh_at));
                return Ok(t.clone());
            }
            if self
                .store
                .tokens()
                .begin_token_fetch(&key, &self.owner, 15_000)
                .await?
            {
                let fetched = self.fetch(app, kind).await;
                return match fetched {
                    Ok((ticket, expires_in)) => {
                        let now = self.store.now_ms();
                        let refresh_at = now + (expires_in - 300).max(expires_in / 2) * 1000;
                        self.store
                            .tokens()
                            .store_token(&key, &ticket, now + expires_in * 1000, refresh_at)
                            .await?;
                        self.memory
                            .lock()
                            .insert(key.clone(), (ticket.clone(), refresh_at));
                        Ok(ticket)
                    }
                    Err(e) => {
                        let _ = self.store.tokens().end_token_fetch(&key, &self.owner).await;
                        Err(e)
                    }
                };
            }
            // Another replica is fetching; a ticket still valid may be used meanwhile.
            if let Some(t) = row.token.as_ref().filter(|_| now < row.expires_at) {
                return Ok(t.clone());
            }
            if waited >= Duration::from_secs(5) {
                return Err(SidebarError::Unavailable(
                    "another replica is fetching the JS-SDK ticket".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += Duration::from_millis(100);
        }
    }

    fn fresh_in_memory(&self, key: &str) -> Option<String> {
        let now = self.store.now_ms();
        self.memory
            .lock()
            .get(key)
            .filter(|(_, refresh_at)| now < *refresh_at)
            .map(|(t, _)| t.clone())
    }

    /// Calls the ticket endpoint; on an invalid or expired access token (`40014`, `42001`,
    /// `41001`) drops the token and tries once more with a fresh one.
    async fn fetch(
        &self,
        app: &ChannelHandle,
        kind: TicketKind,
    ) -> Result<(String, i64), SidebarError> {
        for round in 0..2 {
            let token = self.tokens.token(app).await.map_err(|e| match e {
                TokenError::Rejected(m) => SidebarError::Upstream(format!(
                    "the {} channel's credential is rejected: {m}",
                    app.name
                )),
                TokenError::Later(m) | TokenError::RateLimited { message: m, .. } => {
                    SidebarError::Unavailable(format!("no access token for {} yet: {m}", app.name))
                }
            })?;
            let request = ticket_request(
                app.config
                    .as_wecom_app()
                    .and_then(|c| c.base_url.as_deref()),
                kind,
                &token,
            );
            let body = self
                .http
                .get(&request.url)
                .query(&request.query)
                .send()
                .await
                .map_err(|e| {
                    SidebarError::Unavailable(format!(
                        "WeCom ticket endpoint unreachable: {}",
                        error_text(e)
                    ))
                })?
                .bytes()
                .await
                .map_err(|e| {
                    SidebarError::Upstream(format!(
                        "WeCom ticket answer unreadable: {}",
                        error_text(e)
                    ))
                })?;
            let answer = parse_ticket(&body).map_err(|e| {
                SidebarError::Upstream(format!(
                    "WeCom ticket answer unreadable: error decoding response body: {e}"
                ))
            })?;
            match answer {
                TicketAnswer::Issued {
                    ticket,
                    expires_in_s,
                } => return Ok((ticket, expires_in_s)),
                TicketAnswer::TokenRefused { .. } if round == 0 => {
                    self.tokens.invalidate(app, &token).await;
                }
                TicketAnswer::TokenRefused { code, message }
                | TicketAnswer::Refused { code, message } => {
                    return Err(SidebarError::Upstream(format!(
                        "WeCom refused the JS-SDK ticket ({code}): {message}"
                    )))
                }
            }
        }
        Err(SidebarError::Upstream(
            "WeCom kept refusing the access token for the JS-SDK ticket".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JS-SDK signature example: the ticket of 004_67cc803511621d4a.txt's quick-start with
    /// the documented nonce, timestamp and url.
    #[test]
    fn the_documented_vector_signs() {
        let ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
        let s = jsapi_signature(
            ticket,
            "Wm3WZYTPz0wzccnW",
            1_414_587_457,
            "http://mp.weixin.qq.com?params=value#frag",
        );
        assert_eq!(s.signature, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
        assert_eq!(s.nonce_str, "Wm3WZYTPz0wzccnW");
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"timestamp": 1_414_587_457, "nonceStr": "Wm3WZYTPz0wzccnW", "signature": "0f9de62fce790f9a083d5c99e95740ceb90c27ed"})
        );
    }
}
