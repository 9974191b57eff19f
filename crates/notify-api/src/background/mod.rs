//! Work the API process does in the background because it needs the channel adapters'
//! planning code: adding fallback deliveries.

pub mod fallback;
