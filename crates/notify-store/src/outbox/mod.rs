//! The outbox proper: inserting accepted messages, claiming parts under a lease, fenced
//! completion, and the sweeper that rescues expired leases and expires late work.

pub(crate) mod actions;
mod claim;
pub(crate) mod complete;
pub mod fallback;
mod insert;
pub(crate) mod roll_up;
mod sweep;

pub use actions::RecallStart;
pub use sweep::SweepReport;
