//! The scenarios of issue 8, in the order they run.

use std::future::Future;
use std::pin::Pin;

use crate::harness::{Opts, Report, Res};

pub mod backlog;
pub mod idempotent;
pub mod kill9;
pub mod pg_restart;
pub mod rolling;
pub mod short_lease;
pub mod skew;
pub mod soak;
pub mod upstream;

/// A scenario: takes the options, returns its report.
pub type Scenario = fn(Opts) -> Pin<Box<dyn Future<Output = Res<Report>> + Send>>;

/// Every scenario by name.
pub const ALL: &[(&str, Scenario)] = &[
    ("kill9_mid_drain", |o| Box::pin(kill9::run(o))),
    ("idempotent_retry_across_crash", |o| {
        Box::pin(idempotent::run(o))
    }),
    ("postgres_restart", |o| Box::pin(pg_restart::run(o))),
    ("upstream_faults", |o| Box::pin(upstream::run(o))),
    ("lease_shorter_than_call", |o| Box::pin(short_lease::run(o))),
    ("rolling_restart", |o| Box::pin(rolling::run(o))),
    ("soak", |o| Box::pin(soak::run(o))),
    ("backlog", |o| Box::pin(backlog::run(o))),
    ("clock_skew", |o| Box::pin(skew::run(o))),
];
