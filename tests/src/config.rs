//! The configuration the tests that run the binary start from, so each says only what it is
//! about.

use std::path::{Path, PathBuf};

use crate::scratch::{pg_url, PgSchema};

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
    let database = format!("url = \"sqlite://{}\"", dir.join("notify.db").display());
    write(
        dir.join("gateway.toml"),
        &render(port, &database, caller, server_extra, extra),
    )
}

/// For tests that run several gateways (replicas, a restart) on one store: writes
/// `dir/gw-PORT.toml` with the API on 127.0.0.1:`port`, `database` as the `[database]` keys
/// (see [`postgres_database`]), a 2 s shutdown grace, the sandbox off, `caller`, then
/// `server_extra` and `extra` as in [`write_config`].
pub fn write_replica_config(
    dir: &Path,
    port: u16,
    database: &str,
    caller: &Caller,
    server_extra: &str,
    extra: &str,
) -> PathBuf {
    let server = format!("shutdown_grace = \"2s\"\n{server_extra}");
    let extra = format!("[sandbox]\nenabled = false\n{extra}");
    write(
        dir.join(format!("gw-{port}.toml")),
        &render(port, database, caller, &server, &extra),
    )
}

/// The `[database]` keys of a test's own Postgres schema in [`pg_url`]'s database.
pub fn postgres_database(schema: &PgSchema, max_connections: u32) -> String {
    format!(
        "url = \"{}\"\nschema = \"{}\"\nmax_connections = {max_connections}",
        pg_url(),
        schema.name()
    )
}

fn render(port: u16, database: &str, caller: &Caller, server_extra: &str, extra: &str) -> String {
    let scopes = caller
        .scopes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"[server]
listen = "127.0.0.1:{port}"
{server_extra}
[database]
{database}

[[auth.clients]]
name = "{name}"
access_key = "{access_key}"
secret_key = "{secret}"
tenant = "default"
scopes = [{scopes}]

{extra}
"#,
        name = caller.name,
        access_key = caller.access_key,
        secret = caller.secret,
    )
}

fn write(path: PathBuf, text: &str) -> PathBuf {
    std::fs::write(&path, text).expect("write the gateway's config");
    path
}
