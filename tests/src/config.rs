//! The configuration the tests that run the binary start from, so each says only what it is
//! about.

use std::path::{Path, PathBuf};

/// The caller a test configuration declares (tenant `default`).
pub struct Caller<'a> {
    /// `auth.clients[].name`.
    pub name: &'a str,
    /// Its access key.
    pub access_key: &'a str,
    /// Its secret (the bearer token).
    pub secret: &'a str,
    /// Its scopes.
    pub scopes: &'a [&'a str],
}

/// Writes `dir/gateway.toml` and returns its path: the API on 127.0.0.1:`port`, SQLite in
/// `dir`, `caller`, then `server_extra` (more `[server]` keys, one per line) and `extra` (other
/// sections, e.g. `[sandbox]`, `[log]`, channels). Fails the test when it cannot write.
pub fn write_config(
    dir: &Path,
    port: u16,
    caller: &Caller,
    server_extra: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join("gateway.toml");
    let scopes = caller
        .scopes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
{server_extra}
[database]
url = "sqlite://{db}"

[[auth.clients]]
name = "{name}"
access_key = "{access_key}"
secret_key = "{secret}"
tenant = "default"
scopes = [{scopes}]

{extra}
"#,
        db = dir.join("notify.db").display(),
        name = caller.name,
        access_key = caller.access_key,
        secret = caller.secret,
    );
    std::fs::write(&path, text).expect("write gateway.toml");
    path
}
