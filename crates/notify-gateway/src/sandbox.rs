//! The sandbox: the built-in first run. An in-process simulator stands in for every upstream,
//! and channels and a demo caller are configured for it, so `serve` with no setup delivers
//! messages somewhere a user can look (`/_sim/` on the simulator: the upstream calls, each
//! drawn as its recipient would see it, and a simulated chat with the real sidebar for each
//! chat that has Juzi messages waiting).

use std::net::SocketAddr;
use std::sync::Arc;

use notify_api::ClientConfig;
use notify_core::Secret;
use notify_simulator::{GatewayLink, Simulator, WaitingChat, WaitingChats, WaitingChatsFuture};
use notify_store::Store;
use rand::Rng;

use crate::config::Config;
use crate::error::GatewayError;

/// How many waiting chats the simulator's chat page lists.
const CHATS_LISTED: i64 = 200;

/// Starts the simulator on a free loopback port.
pub async fn start_simulator() -> Result<(Simulator, SocketAddr), GatewayError> {
    let sim = Simulator::new();
    let addr = sim
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| GatewayError::io("sandbox simulator", e))?;
    Ok((sim, addr))
}

/// The origin of the simulator's pages, which the sidebar lets embed it and answers through
/// its sandbox bridge.
pub fn simulator_origin(sim: SocketAddr) -> String {
    format!("http://{sim}")
}

/// The store's waiting Juzi chats, as the simulator's chat page asks for them.
struct StoreChats(Store);

impl WaitingChats for StoreChats {
    fn waiting_chats(&self) -> WaitingChatsFuture<'_> {
        Box::pin(async move {
            let chats = self
                .0
                .sidebar()
                .waiting_chats(CHATS_LISTED)
                .await
                .map_err(|e| e.to_string())?;
            Ok(chats
                .into_iter()
                .map(|c| WaitingChat {
                    channel: c.channel,
                    chat_key: c.chat_key,
                    waiting: u64::try_from(c.waiting).unwrap_or(0),
                })
                .collect())
        })
    }
}

/// Shows the simulator the gateway's sidebar page and its waiting Juzi chats.
pub fn link(sim: &Simulator, store: &Store, public_url: &str) {
    sim.link_gateway(GatewayLink {
        sidebar_url: format!("{}/sidebar/", public_url.trim_end_matches('/')),
        chats: Arc::new(StoreChats(store.clone())),
    });
}

/// Fills `config` with sandbox channels (when none are configured) and a demo caller (when
/// none is configured). Returns the demo caller's secret to print.
pub fn apply(config: &mut Config, sim: SocketAddr) -> Option<(String, String)> {
    if config.channels.is_empty() {
        for (name, c) in notify_channels::registry::sandbox_channels(&format!("http://{sim}")) {
            config.channels.insert(name.to_string(), c);
        }
    }
    if config.auth.clients.is_empty() {
        let secret: String = (0..24)
            .map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>()))
            .collect();
        config.auth.clients.push(ClientConfig {
            name: "demo".into(),
            access_key: "demo".into(),
            secret_key: Secret::new(secret.clone()),
            previous_secret_key: None,
            tenant: "default".into(),
            scopes: vec![
                "send".into(),
                "recall".into(),
                "read".into(),
                "admin".into(),
            ],
            max_per_second: 0,
            connector_signing: false,
        });
        return Some(("demo".into(), secret));
    }
    None
}
