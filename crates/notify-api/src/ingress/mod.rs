//! Accepting a message: parse, check, plan every target with its adapter, and commit it with
//! other requests' messages in one transaction.

pub mod alert;
pub mod canonical;
pub mod directory;
pub mod group_commit;
pub mod plan;
pub mod resolve_state;
