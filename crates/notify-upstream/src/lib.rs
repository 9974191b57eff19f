//! Calling upstreams, for the dispatcher and the sidebar alike: the HTTP client that performs an
//! adapter's request and keeps secrets out of errors and logs ([`http`]), the token manager
//! shared by every replica ([`tokens`]), and the paces that space calls of a lane and an egress
//! group — token fetches included ([`pace`]).

pub mod http;
pub mod pace;
pub mod tokens;
