//! The upstream simulator of notify-gateway.
//!
//! One axum router answers, on one port, every upstream the gateway talks to — WeLink
//! public-account messages and Xiaowei under `/api/...`, the WeCom app API under `/cgi-bin/...`,
//! the WeCom work-ID middle platform under `/integration/wx_work/...` with its OAuth2
//! client-credentials endpoint `POST /oauth/token`, and the Juzi sidebar OAuth — validating
//! requests the way the seed documents describe and answering in their shapes. Every upstream
//! call is kept in a bounded call log that tests read through [`Simulator::calls`] or
//! `GET /_sim/calls`; `/_sim/...` also injects faults, moves the clock and changes the caps.
//!
//! It depends on no other `notify-*` crate on purpose: it reads the documents independently of
//! the adapters, so it cannot share their misreadings. The conventions it adds where the
//! documents are silent are listed in the crate's `README.md`.

mod apps;
mod calls;
mod caps;
mod chats;
mod clock;
mod conn;
mod control;
mod entry;
mod faults;
mod fields;
mod ids;
mod juzi;
mod multipart;
mod oauth;
mod page;
mod recipients;
mod reply;
pub mod rules;
mod stats;
mod wecom_app;
mod welink;
mod workid;
mod xiaowei;

use std::net::SocketAddr;
use std::sync::Arc;

pub use calls::RecordedCall;
pub use chats::{GatewayLink, WaitingChat, WaitingChats, WaitingChatsFuture};

/// The shared state behind every clone of a [`Simulator`].
pub(crate) struct Inner {
    pub clock: clock::SimClock,
    pub caps: parking_lot::RwLock<caps::Caps>,
    pub modes: parking_lot::RwLock<control::Modes>,
    pub windows: caps::Windows,
    pub log: calls::CallLog,
    pub faults: faults::Faults,
    pub apps: apps::Apps,
    pub welink: welink::State,
    pub wecom: wecom_app::State,
    pub workid: workid::State,
    pub juzi: juzi::State,
    pub chats: chats::State,
}

impl Inner {
    /// Forgets everything a run has built up (calls, faults, tokens, messages, quotas, window
    /// contents, the clock offset) but keeps the configuration: caps, modes and registered apps.
    pub fn reset(&self) {
        self.log.clear();
        self.faults.clear();
        self.windows.clear();
        self.clock.reset();
        self.apps.clear_failures();
        self.welink.clear();
        self.wecom.clear();
        self.workid.clear();
        self.juzi.clear();
        self.chats.clear();
    }
}

/// A running set of fake upstreams. Cloning is cheap: every clone shares one state.
#[derive(Clone)]
pub struct Simulator {
    pub(crate) inner: Arc<Inner>,
}

impl Default for Simulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Simulator {
    /// A simulator with the documented default caps (WeLink 40/s and 1500/min per client_id and
    /// interface, 3000 per 20 s per IP, Xiaowei 100 a day, WeCom 30/min and 1000/h per member,
    /// 10,000/min per company and API) and an empty call log.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: clock::SimClock::new(),
                caps: parking_lot::RwLock::new(caps::Caps::default()),
                modes: parking_lot::RwLock::new(control::Modes::default()),
                windows: caps::Windows::default(),
                log: calls::CallLog::new(calls::LOG_CAPACITY),
                faults: faults::Faults::default(),
                apps: apps::Apps::default(),
                welink: welink::State::default(),
                wecom: wecom_app::State::default(),
                workid: workid::State::default(),
                juzi: juzi::State::default(),
                chats: chats::State::default(),
            }),
        }
    }

    /// Every upstream endpoint plus the `/_sim` control API, ready to be served or nested.
    ///
    /// Served through [`Simulator::spawn`] the router knows each caller's address and can
    /// inject `reset` faults by closing the connection; served by someone else it records the
    /// peer as `x-sim-peer-ip` (if sent) or `unknown`.
    pub fn router(&self) -> axum::Router {
        control::routes()
            .fallback(entry::upstream)
            .with_state(self.clone())
    }

    /// Binds `addr` and serves [`Simulator::router`] in a background tokio task; returns the
    /// address actually bound (so `127.0.0.1:0` picks a free port).
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let app = self
            .router()
            .into_make_service_with_connect_info::<conn::ConnInfo>();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(conn::KillableListener::new(listener), app).await {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        Ok(local)
    }

    /// Tells the simulator about the gateway that runs it in-process (the sandbox): its
    /// sidebar page and its chats with waiting Juzi messages, which `/_sim/chats` shows as
    /// simulated chats with the sidebar open.
    pub fn link_gateway(&self, link: GatewayLink) {
        self.inner.chats.link(link);
    }

    /// A snapshot of the call log, oldest first (the same data as `GET /_sim/calls`).
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.inner
            .log
            .snapshot()
            .iter()
            .map(|e| e.to_recorded())
            .collect()
    }
}

/// Serves the simulator on `listen` until ctrl-c: what `notify-gateway simulate --listen ADDR`
/// runs.
pub async fn run(listen: SocketAddr) -> std::io::Result<()> {
    let sim = Simulator::new();
    let addr = sim.spawn(listen).await?;
    tracing::info!(%addr, "upstream simulator listening; control API and call page at /_sim/");
    println!("notify-simulator listening on http://{addr} (calls: http://{addr}/_sim/)");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
