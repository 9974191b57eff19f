//! The outbox proper: inserting accepted messages, claiming parts under a lease, fenced
//! completion, and the sweeper that rescues expired leases and expires late work.

mod actions;
mod claim;
mod complete;
mod insert;
mod sweep;

/// Rows per multi-row INSERT: well under Postgres' 65,535 bind parameters at ~15 columns.
pub(crate) const INSERT_CHUNK: usize = 500;

pub use actions::RecallStart;
pub use sweep::SweepReport;
