//! `notify-faults` (a binary of the `notify-e2e` package): proof that nothing is lost (issue 8). Drives the real `notify-gateway`
//! binary, the upstream simulator (in-process) and Postgres (a fresh schema per scenario,
//! dropped after) through crashes, database restarts, upstream faults, rolling restarts, a soak,
//! a large backlog and clock skew. Prints one line per scenario with its figures and a final
//! `N passed, N failed`; exits non-zero if any scenario failed.
//!
//! `--short` (the default; what CI runs after the test suite, within ~4 minutes) and `--long`
//! (by hand: 20 kills over 2,000 messages, a 30-minute soak, 1,000,000 queued deliveries).

mod harness;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use harness::{Opts, Report, Res};

#[derive(Parser)]
#[command(
    name = "notify-faults",
    about = "Fault, crash, soak and backlog suite for notify-gateway"
)]
struct Cli {
    /// The CI form: fewer kills, fewer messages, a short soak (the default).
    #[arg(long, conflicts_with = "long")]
    short: bool,
    /// The long form, run by hand (a 30-minute soak, 1,000,000 queued deliveries).
    #[arg(long)]
    long: bool,
    /// Run only this scenario (may be repeated).
    #[arg(long)]
    only: Vec<String>,
    /// The gateway binary. Unset: the one beside this suite's own target folder, brought up
    /// to date with `cargo build -p notify-gateway` first (the tests' harness does the same).
    #[arg(long, env = "NOTIFY_GATEWAY_BIN")]
    bin_path: Option<PathBuf>,
    /// Postgres database to make the scenario schemas in.
    #[arg(
        long,
        env = "NOTIFY_TEST_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pg_url: String,
    /// A command that runs `pg_ctl` for the cluster behind `--pg-url`, its data directory and
    /// log file (`-D`, `-l`) bound in: `postgres_restart` restarts Postgres with it
    /// (`CMD restart -m fast|immediate -w`). `scripts/test` sets it for its private cluster.
    /// Unset: every Debian cluster under /etc/postgresql, by `pg_ctlcluster`.
    #[arg(long, env = "NOTIFY_TEST_PG_CTL")]
    pg_ctl: Option<PathBuf>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let names: Vec<&str> = scenarios::ALL.iter().map(|(n, _)| *n).collect();
    if cli.list {
        for n in &names {
            println!("{n}");
        }
        return ExitCode::SUCCESS;
    }
    for o in &cli.only {
        if !names.contains(&o.as_str()) {
            eprintln!("unknown scenario {o:?}; known: {}", names.join(", "));
            return ExitCode::FAILURE;
        }
    }
    let bin = match &cli.bin_path {
        Some(path) if path.exists() => path.clone(),
        Some(path) => {
            eprintln!("{} not found: pass another --bin-path", path.display());
            return ExitCode::FAILURE;
        }
        None => match notify_e2e::binary::locate() {
            Ok(path) => path,
            Err(e) => {
                eprintln!("no notify-gateway binary: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let opts = Opts {
        bin,
        pg_url: cli.pg_url.clone(),
        pg_ctl: cli.pg_ctl.clone(),
        long: cli.long,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    let started = Instant::now();
    for (name, run) in scenarios::ALL {
        if !cli.only.is_empty() && !cli.only.iter().any(|o| o == name) {
            continue;
        }
        let t0 = Instant::now();
        let limit = if opts.long {
            Duration::from_secs(3600)
        } else {
            Duration::from_secs(180)
        };
        let result: Res<Report> = runtime.block_on(async {
            match tokio::time::timeout(limit, run(opts.clone())).await {
                Ok(r) => r,
                Err(_) => Err(format!("did not finish within {}s", limit.as_secs())),
            }
        });
        let secs = t0.elapsed().as_secs_f64();
        match result {
            Ok(r) if r.failures.is_empty() => {
                passed += 1;
                println!("PASS {name} {} ({secs:.1}s)", r.figures.join(" "));
            }
            Ok(r) => {
                failed += 1;
                println!(
                    "FAIL {name} {} ({secs:.1}s) -- {}",
                    r.figures.join(" "),
                    r.failures.join("; ")
                );
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name} error: {e} ({secs:.1}s)");
            }
        }
    }
    // The database restarts must never leave Postgres down, whatever happened above.
    scenarios::pg_restart::ensure_postgres_running(&opts);
    eprintln!("total {:.1}s", started.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
