//! The outbox proper: inserting accepted messages, claiming parts under a lease, fenced
//! completion, and the sweeper that rescues expired leases and expires late work.

pub(crate) mod actions;
mod claim;
pub(crate) mod complete;
pub mod fallback;
mod insert;
pub(crate) mod roll_up;
mod sweep;

use crate::Store;

pub use actions::RecallStart;
pub use sweep::SweepReport;

/// The outbox's writer role ([`Store::outbox`]): accepting messages (and the replay guard on
/// signed requests), claiming parts under a lease, renewing leases, fenced completion, recalls,
/// appended calls, admin retries, fallbacks, and the sweeper's rescue, expiry and retention.
/// Used by `notify-api` (ingress, the digest and fallback loops, the delivery actions) and
/// `notify-dispatch` (the workers, recalls and the sweeper); the fault suite (`notify-faults`)
/// claims through it too. Two writes to deliveries sit on the role of their only caller
/// instead, so that caller needs no outbox handle: acknowledgement
/// ([`crate::Escalation::acknowledge`]) and the sidebar agent's report
/// ([`crate::Sidebar::record_agent_result`]).
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'s> {
    pub(crate) store: &'s Store,
}
