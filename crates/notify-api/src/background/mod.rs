//! Loops the gateway runs beside the HTTP server that need the API's planning code (the
//! channel adapters and `ingress::plan`): storm control's digests and fallback deliveries.

pub mod digest;
pub mod fallback;
