//! The outbox proper: inserting accepted messages, claiming parts under a lease, fenced
//! completion, and the sweeper that rescues expired leases and expires late work.

mod actions;
mod claim;
mod complete;
mod insert;
mod sweep;

/// Rows per set-based INSERT (one JSON parameter each): bounds one statement's size.
pub(crate) const INSERT_CHUNK: usize = 1000;

pub use actions::RecallStart;
pub use sweep::SweepReport;
