//! Loops the gateway runs beside the HTTP server that need the API's planning code (the
//! channel adapters and `ingress::plan`).

pub mod digest;
