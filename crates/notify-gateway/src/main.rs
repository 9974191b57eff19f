//! `notify-gateway`: one binary for the gateway (`serve`), its migrations (`migrate`), the
//! upstream simulator (`simulate`) and an operator's signed `send`.

mod config;
mod error;
mod sandbox;
mod send;
mod serve;
mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::GatewayError;

/// mimalloc instead of the system allocator: ingress allocates many small, short-lived strings
/// and JSON values per message, and glibc malloc/free were about a fifth of the gateway's time
/// in the batch benchmark (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "notify-gateway",
    version,
    about = "A notification gateway for Huawei WeLink and WeCom"
)]
struct Cli {
    /// Log lines as `text` (for a person) or `json` (one object a line, for a log pipeline);
    /// overrides `log.format`.
    #[arg(long, global = true, value_parser = ["text", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then run the HTTP API, the workers and the sidebar page.
    Serve {
        /// Configuration file (default: config/local.toml if present, else built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply migrations and exit.
    Migrate {
        /// Configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the upstream simulator alone (WeLink, Xiaowei, WeCom work-ID, WeCom app, Juzi OAuth).
    Simulate {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
    },
    /// Sign and post one message to a running gateway.
    Send(send::SendArgs),
    /// Probe a running gateway's /healthz (for container health checks); exit 0 when healthy.
    #[command(hide = true)]
    Healthcheck {
        /// The URL to probe.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_format = cli.log_format;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { config } => serve::serve(config.as_deref(), log_format).await,
            Command::Migrate { config } => serve::migrate(config.as_deref(), log_format).await,
            Command::Simulate { listen } => {
                telemetry::init(log_format.as_deref().unwrap_or("text"), "info");
                println!(
                    "simulator listening on http://{listen} (call log at http://{listen}/_sim/)"
                );
                notify_simulator::run(listen)
                    .await
                    .map_err(|e| GatewayError::io(format!("simulate {listen}"), e))
            }
            Command::Send(args) => send::send(args).await,
            Command::Healthcheck { url } => healthcheck(&url).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

async fn healthcheck(url: &str) -> Result<(), GatewayError> {
    let resp = reqwest::Client::new()
        .get(url)
        .timeout(std::time::Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| GatewayError::Remote(format!("unhealthy: {e}")))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(GatewayError::Remote(format!(
            "unhealthy: {}",
            resp.status()
        )))
    }
}
