//! Who is calling (contract §3): signed requests, bearer tokens and the WeLink connector
//! scheme; scopes, tenants, per-caller rate limits and the replay guard.

pub mod caller;
pub mod limit;
pub mod signature;

pub use caller::{authenticate, Caller, Clients, Owner};
