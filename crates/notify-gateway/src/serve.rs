//! `serve` and `migrate`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_api::{ApiConfig, AppState};
use notify_channels::{build_channel, ChannelHandle};
use notify_core::{Clock, OffsetClock, SystemClock};
use notify_dispatch::{DispatchConfig, Dispatcher, FetchPolicy, RetryPolicy};
use notify_store::{DatabaseClock, Store, StoreOptions};
use tokio::sync::watch;

use crate::config::{self, Config, Source};
use crate::error::GatewayError;
use crate::{sandbox, telemetry};

/// The host clock: the system clock, shifted by `NOTIFY_CLOCK_OFFSET_MS` when set — a test hook
/// that plays a replica whose host clock is off (issue 8's skew scenario). The gateway corrects
/// it against the database's clock.
fn host_clock() -> Result<Arc<dyn Clock>, GatewayError> {
    match env_ms("NOTIFY_CLOCK_OFFSET_MS")? {
        Some(offset) => {
            tracing::warn!(
                offset_ms = offset,
                "host clock shifted by NOTIFY_CLOCK_OFFSET_MS"
            );
            Ok(Arc::new(OffsetClock::new(SystemClock, offset)))
        }
        None => Ok(Arc::new(SystemClock)),
    }
}

/// Milliseconds from an environment variable, if set.
fn env_ms(var: &str) -> Result<Option<i64>, GatewayError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| GatewayError::Config(format!("{var}={v:?}: {e}"))),
        _ => Ok(None),
    }
}

/// Opens and migrates the store on the database's clock (see `notify_store::db_clock`), kept
/// calibrated every 30 s. `NOTIFY_TIME_TRAVEL_MS` moves the gateway's time on purpose, after
/// the correction: a test hook for a simulated day change; production leaves it unset.
async fn open_store(config: &Config) -> Result<Store, GatewayError> {
    let mut opts = StoreOptions::new(config.database.url.clone());
    opts.max_connections = config.database.max_connections;
    opts.schema = config.database.schema.clone();
    let travel = env_ms("NOTIFY_TIME_TRAVEL_MS")?.unwrap_or(0);
    if travel != 0 {
        tracing::warn!(
            travel_ms = travel,
            "gateway time moved by NOTIFY_TIME_TRAVEL_MS"
        );
    }
    let clock = Arc::new(DatabaseClock::new(host_clock()?, travel));
    let store = Store::connect(&opts, clock.clone())
        .await
        .map_err(|e| GatewayError::store("database.url", e))?;
    let offset = clock
        .calibrate(&store)
        .await
        .map_err(|e| GatewayError::store("database.url", e))?;
    if offset.abs() > 1_000 {
        tracing::warn!(
            offset_ms = offset,
            "this host's clock differs from the database's; the gateway uses the database's"
        );
    }
    let calibrating = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            if calibrating.is_closed() {
                return;
            }
            if let Err(e) = clock.calibrate(&calibrating).await {
                tracing::debug!(error = %e, "clock calibration failed; keeping the last offset");
            }
        }
    });
    store
        .migrate()
        .await
        .map_err(|e| GatewayError::store("migrations", e))?;
    Ok(store)
}

/// A start-up line for a person at a terminal (address, demo key, sidebar URL). With
/// `log.format = "json"` stdout is a log stream a pipeline parses line by line, so these lines
/// go to stderr instead.
macro_rules! banner {
    ($config:expr, $($arg:tt)*) => {
        if $config.log.format == "json" {
            eprintln!($($arg)*);
        } else {
            println!($($arg)*);
        }
    };
}

/// `notify-gateway migrate`.
pub async fn migrate(path: Option<&Path>, log_format: Option<String>) -> Result<(), GatewayError> {
    let (mut config, _) = config::load(path)?;
    if let Some(f) = log_format {
        config.log.format = f;
    }
    telemetry::init(&config.log.format, &config.log.level);
    let store = open_store(&config).await?;
    store.close().await;
    banner!(
        config,
        "migrations applied to {}",
        redact_url(&config.database.url)
    );
    Ok(())
}

/// `notify-gateway serve`.
pub async fn serve(path: Option<&Path>, log_format: Option<String>) -> Result<(), GatewayError> {
    let (mut config, source) = config::load(path)?;
    // `--log-format` wins over `log.format`.
    if let Some(f) = log_format {
        config.log.format = f;
    }
    telemetry::init(&config.log.format, &config.log.level);
    // Buckets make latencies Prometheus histograms (summable over replicas) instead of the
    // exporter's default per-process summaries.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_size".into()),
                &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
            )
        })
        .and_then(|b| b.install_recorder())
        .map_err(|e| GatewayError::Start(format!("metrics: {e}")))?;
    notify_api::describe_metrics();
    notify_dispatch::describe_metrics();

    refuse_public_demo_key(&config, config.sandbox_on(&source))?;
    let mut fetch = FetchPolicy::default();
    let mut demo = None;
    let mut sim = None;
    if config.sandbox_on(&source) {
        let (simulator, addr) = sandbox::start_simulator().await?;
        demo = sandbox::apply(&mut config, addr);
        // The simulator's own address only: not loopback at large (the gateway's /metrics).
        fetch.exempt.push(addr);
        sim = Some((simulator, addr));
    }
    crate::config::check_hook_channels(&config)?;
    let channels: Vec<ChannelHandle> = config
        .channels
        .iter()
        .map(|(name, c)| build_channel(name, c).map_err(GatewayError::setting))
        .collect::<Result<_, _>>()?;

    let store = open_store(&config).await?;
    // The config file's directory replaces the same ids in each caller's tenant at every
    // start; people and groups only the API made are kept (docs/people.md).
    if !config.people.is_empty() || !config.groups.is_empty() {
        let seed = config.directory_seed();
        for tenant in config.directory_seed_tenants() {
            store
                .people()
                .seed_directory(&tenant, &seed)
                .await
                .map_err(|e| GatewayError::store("people", e))?;
        }
    }
    // Bound before the API is built: acknowledge links start with the public URL, which
    // defaults to the address actually bound.
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .map_err(|e| GatewayError::io(format!("server.listen {}", config.server.listen), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| GatewayError::io("server.listen", e))?;
    let public_url = public_url(&config, local);
    let secret = session_secret(&config);
    let api_config = ApiConfig {
        max_body_bytes: config.server.max_body_bytes,
        max_inflight_body_bytes: config.server.max_inflight_body_bytes,
        operator_routes_on_api: config.server.metrics_listen.is_empty(),
        default_ttl_ms: config.delivery.default_ttl.as_millis() as i64,
        clients: config.auth.clients.clone(),
        signature_window_ms: 300_000,
        commit_batch_max: 256,
        pause_after_commit: env_ms("NOTIFY_TEST_PAUSE_AFTER_COMMIT_MS")?
            .map(|ms| Duration::from_millis(ms.max(0) as u64)),
        hooks: config.hooks.clone(),
        public_url: public_url.clone(),
        ack_secret: secret.clone(),
    };
    let state = AppState::new(store.clone(), channels.clone(), api_config, Some(metrics));
    let mut app = notify_api::router(state.clone());
    let sidebar_channels = channels.clone();

    let dispatch_config = DispatchConfig {
        policy: RetryPolicy {
            max_attempts: i64::from(config.delivery.max_attempts),
            backoff_base: config.delivery.backoff_base,
            backoff_max: config.delivery.backoff_max,
        },
        part_lease: config.delivery.lease,
        lane_lease: config.lanes.lease,
        fetch,
        retention: Duration::from_secs(u64::from(config.retention.finished_days) * 86_400),
        // The process id in the replica id tells operators (and the replica tests) which
        // process owns a lane in `GET /v1/channels`.
        replica_id: format!("replica-{}-{}", std::process::id(), ulid::Ulid::new()),
        ..DispatchConfig::default()
    };
    let dispatcher =
        Dispatcher::new(store.clone(), channels, dispatch_config).map_err(GatewayError::setting)?;
    let replica = dispatcher.replica_id().to_string();
    let (stop_tx, stop_rx) = watch::channel(false);
    // Storm control's digests are made on every replica; their idempotency key makes each
    // exactly once.
    let digests = tokio::spawn(notify_api::background::digest::run(
        state.clone(),
        notify_api::background::digest::DIGEST_INTERVAL,
        stop_rx.clone(),
    ));
    let workers = tokio::spawn(dispatcher.run(stop_rx.clone()));
    // Fallback deliveries are planned with the channel adapters, next to ingress.
    let fallbacks = tokio::spawn(notify_api::background::fallback::run(
        state.clone(),
        stop_rx,
    ));

    let sandbox_parent = sim
        .as_ref()
        .map(|(_, addr)| sandbox::simulator_origin(*addr));
    // The console calls the API's routes in-process as the signed-in admin (see
    // notify_console::forward), so it gets the API's router itself.
    let console = notify_console::ConsoleState::new(
        store.clone(),
        notify_api::router(state.clone()),
        notify_console::ConsoleConfig::new(
            public_url.clone(),
            secret.clone(),
            config.auth.clients.clone(),
        ),
    )
    .map_err(GatewayError::Config)?;
    app = app.merge(notify_console::router(console));
    let mut sidebar_url = None;
    if let Some(sidebar) = sidebar_state(
        &config,
        &store,
        &sidebar_channels,
        &public_url,
        secret,
        sandbox_parent,
    )? {
        app = app.merge(notify_sidebar::router(sidebar));
        if let Some((simulator, _)) = &sim {
            sandbox::link(simulator, &store, &public_url);
        }
        sidebar_url = Some(format!("{public_url}/sidebar/"));
    }
    tracing::info!(%local, replica = %replica, database = %redact_url(&config.database.url), "notify-gateway serving");
    banner!(config, "notify-gateway listening on http://{local}");
    if source == Source::Defaults {
        banner!(
            config,
            "  (built-in defaults: SQLite at {}, sandbox upstreams)",
            redact_url(&config.database.url)
        );
    }
    if let Some((_, addr)) = &sim {
        banner!(
            config,
            "  sandbox simulator: http://{addr}/_sim/  (every upstream call the gateway makes)"
        );
        banner!(
            config,
            "    as recipients see them: http://{addr}/_sim/recipients  Juzi chats: http://{addr}/_sim/chats"
        );
    }
    if let Some(url) = &sidebar_url {
        banner!(config, "  Juzi sidebar: {url}");
    }
    banner!(
        config,
        "  admin console: {public_url}/console/  (sign in with an admin caller's access key and secret)"
    );
    if let Some((key, secret)) = &demo {
        banner!(config, "  demo caller: access key {key:?}, secret {secret:?} (scopes send, recall, read, admin)");
        banner!(config, "  try: curl -s -H 'Authorization: Bearer {secret}' -H 'content-type: application/json' \\");
        banner!(config, "         -d '{{\"title\":\"Disk almost full\",\"content\":\"db-3 /var at 95%\",\"targets\":[{{\"channel\":\"welink\",\"users\":[\"zhangsan@welink\"]}}]}}' \\");
        banner!(config, "         http://{local}/v1/messages");
    }

    let limits = notify_api::ServerLimits {
        header_read_timeout: config.server.header_read_timeout,
        request_timeout: config.server.request_timeout,
        max_connections: config.server.max_connections,
    };
    let (stopping_tx, stopping) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stopping_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let operator = match config.server.metrics_listen.as_str() {
        "" => None,
        addr => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| GatewayError::io(format!("server.metrics_listen {addr}"), e))?;
            let local = listener
                .local_addr()
                .map_err(|e| GatewayError::io("server.metrics_listen", e))?;
            banner!(
                config,
                "  metrics, OpenAPI and docs: http://{local}/metrics  (server.metrics_listen)"
            );
            Some(tokio::spawn(notify_api::serve(
                listener,
                notify_api::operator_router(state.clone()),
                limits,
                stopped(stopping.clone()),
            )))
        }
    };
    drop(state);

    let grace = config.server.shutdown_grace;
    notify_api::serve(listener, app, limits, stopped(stopping)).await;
    if let Some(operator) = operator {
        let _ = operator.await;
    }
    // Stop claiming, finish in-flight calls, write their results, release the lanes.
    tracing::info!("shutting down: draining in-flight calls");
    let _ = stop_tx.send(true);
    let _ = digests.await;
    let _ = fallbacks.await;
    if tokio::time::timeout(grace, workers).await.is_err() {
        tracing::warn!(
            "drain exceeded shutdown_grace; parts still leased will be re-queued after their lease"
        );
    }
    store.close().await;
    Ok(())
}

/// The sandbox's demo caller holds the admin scope and its secret is printed at start; on an
/// address other machines can reach (a container's 0.0.0.0) that would give an admin key to
/// anyone who can reach the port and to anyone who reads the logs. Such a start is refused.
fn refuse_public_demo_key(config: &Config, sandbox_on: bool) -> Result<(), GatewayError> {
    let loopback = config
        .server
        .listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if sandbox_on && config.auth.clients.is_empty() && !loopback {
        return Err(GatewayError::Config(format!(
            "server.listen: the sandbox's demo caller (an admin key) is only made on a loopback address, not {}; \
             configure [[auth.clients]], listen on 127.0.0.1, or set sandbox.enabled = false",
            config.server.listen
        )));
    }
    Ok(())
}

/// Where browsers reach the gateway: `server.public_url`, or `http://{listen}` when it is
/// empty. The sidebar's redirects and the sidebar's and console's cookies use it.
fn public_url(config: &Config, local: std::net::SocketAddr) -> String {
    match config.server.public_url.trim() {
        "" => format!("http://{local}"),
        url => url.to_string(),
    }
}

/// The key of the sidebar's and console's session cookies and of acknowledge links:
/// `server.session_secret`, or a random one for this process when it is empty (sessions and
/// links then end at restart and are not shared by replicas).
fn session_secret(config: &Config) -> Vec<u8> {
    match config.server.session_secret.expose() {
        "" => {
            tracing::warn!("server.session_secret is not set: sidebar and console sessions and acknowledge links end at restart and are not shared by replicas");
            let mut random = vec![0u8; 32];
            rand::Rng::fill(&mut rand::thread_rng(), &mut random[..]);
            random
        }
        s => s.as_bytes().to_vec(),
    }
}

/// The Juzi sidebar, when a `juzi` channel is configured. `sandbox_parent` is the simulator's
/// origin in the sandbox (its chat page embeds the sidebar).
fn sidebar_state(
    config: &Config,
    store: &Store,
    channels: &[ChannelHandle],
    public_url: &str,
    secret: Vec<u8>,
    sandbox_parent: Option<String>,
) -> Result<Option<notify_sidebar::SidebarState>, GatewayError> {
    let mut sidebar_config = notify_sidebar::SidebarConfig::new(public_url, secret);
    sidebar_config.sandbox_parent = sandbox_parent;
    sidebar_config.frame_ancestors = config.server.sidebar_frame_ancestors.clone();
    notify_sidebar::SidebarState::from_channels(store.clone(), channels, sidebar_config)
        .map_err(GatewayError::Config)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// The URL with its password (if it has one) shown as `***`, for logs. A URL that does not
/// parse is not shown at all: it may hold a password in a shape the parser missed.
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have credentials, which this one has.
                let _ = parsed.set_password(Some("***"));
            }
            // A password may also be a query parameter (`?password=`, `sslpassword=`).
            if parsed.query_pairs().any(|(k, _)| k.contains("pass")) {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k.contains("pass") {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable database.url)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn only_a_password_is_hidden() {
        assert_eq!(
            redact_url("postgres://notify:s3cr%40t@db:5432/notify"),
            "postgres://notify:***@db:5432/notify"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact_url("postgres://db/notify?application_name=a@b"),
            "postgres://db/notify?application_name=a@b"
        );
        assert_eq!(
            redact_url("sqlite://data/notify.db"),
            "sqlite://data/notify.db"
        );
        assert!(!redact_url("postgres://u:pw@[bad").contains("pw"));
        assert_eq!(
            redact_url("postgres://u@db/notify?password=pw1&sslpassword=pw2&sslmode=require"),
            "postgres://u@db/notify?password=***&sslpassword=***&sslmode=require"
        );
    }
}
