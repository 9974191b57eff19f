//! Configuration (contract §2): built-in defaults → a TOML file → `NOTIFY__SECTION__KEY`
//! environment variables. Secrets may be `"env:VAR"`. Unknown keys are refused, so a typo stops
//! start-up with the key's name instead of being ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use notify_api::hooks::HookConfig;
use notify_api::ClientConfig;
use notify_channels::{ChannelConfig, KindConfig};
use serde::{Deserialize, Serialize};

use crate::error::GatewayError;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[sandbox]`.
    pub sandbox: SandboxConfig,
    /// `[retention]`.
    pub retention: RetentionConfig,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[delivery]`.
    pub delivery: DeliveryConfig,
    /// `[lanes]`.
    pub lanes: LanesConfig,
    /// `[auth]`.
    pub auth: AuthConfig,
    /// `[channels.NAME]`.
    pub channels: BTreeMap<String, KindConfig>,
    /// `[hooks.NAME]`: alert sources (`POST /v1/hooks/NAME`).
    pub hooks: BTreeMap<String, HookConfig>,
    /// `[people.ID]`: the directory's people, seeded at start-up into the tenants of the
    /// configured callers (`Config::directory_seed_tenants`).
    pub people: BTreeMap<String, PersonConfig>,
    /// `[groups]`: group name = [person ids], seeded with the people.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// `[people.ID]`: a person's ids on the channel kinds (contract §7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// WeLink user id (also Xiaowei's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welink: Option<String>,
    /// WeCom app user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom: Option<String>,
    /// WeCom work ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workid: Option<String>,
}

impl Config {
    /// The tenants the config file's directory seeds: every tenant of a configured caller
    /// (the file's people are the deployment's people), or `default` when none is configured.
    pub fn directory_seed_tenants(&self) -> std::collections::BTreeSet<String> {
        let mut tenants: std::collections::BTreeSet<String> =
            self.auth.clients.iter().map(|c| c.tenant.clone()).collect();
        if tenants.is_empty() {
            tenants.insert("default".into());
        }
        tenants
    }

    /// The configured directory, as the store keeps it.
    pub fn directory_seed(&self) -> notify_store::directory::Directory {
        notify_store::directory::Directory {
            people: self
                .people
                .iter()
                .map(|(id, p)| {
                    (
                        id.clone(),
                        notify_store::directory::Person {
                            name: p.name.clone(),
                            welink: p.welink.clone(),
                            wecom: p.wecom.clone(),
                            workid: p.workid.clone(),
                        },
                    )
                })
                .collect(),
            groups: self.groups.clone(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTP listen address.
    pub listen: String,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Public base URL (sidebar OAuth redirect).
    pub public_url: String,
    /// Signs sidebar sessions.
    pub session_secret: notify_core::Secret,
    /// SIGTERM drain time.
    #[serde(with = "humantime_serde_compat")]
    pub shutdown_grace: Duration,
    /// Most bytes all request bodies in flight may hold together.
    pub max_inflight_body_bytes: usize,
    /// Time a connection has to send a whole request head.
    #[serde(with = "humantime_serde_compat")]
    pub header_read_timeout: Duration,
    /// Time a request has from its head to its answer.
    #[serde(with = "humantime_serde_compat")]
    pub request_timeout: Duration,
    /// Connections served at once (per listener).
    pub max_connections: usize,
    /// Address of a separate listener for /metrics, /openapi.json and /docs; empty: the API's.
    pub metrics_listen: String,
    /// CSP `frame-ancestors` of the sidebar; empty: the gateway and the Juzi channels' origins.
    pub sidebar_frame_ancestors: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 262_144,
            public_url: String::new(),
            session_secret: notify_core::Secret::default(),
            shutdown_grace: Duration::from_secs(20),
            max_inflight_body_bytes: 64 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            metrics_listen: String::new(),
            sidebar_frame_ancestors: Vec::new(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// `[sandbox]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Run the simulator in-process; with no channels configured, point the five sandbox
    /// channels at it; with no callers, print a demo key. Unset: on with the built-in
    /// defaults only, off as soon as a configuration file is read ([`Config::sandbox_on`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `[retention]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after which finished messages are purged.
    pub finished_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { finished_days: 30 }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Postgres schema (optional; tests and shared databases).
    pub schema: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/notify.db".into(),
            max_connections: 16,
            schema: None,
        }
    }
}

/// `[delivery]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts before failing.
    pub max_attempts: u32,
    /// Deadline of a message without `expires_at`.
    #[serde(with = "humantime_serde_compat")]
    pub default_ttl: Duration,
    /// First back-off step.
    #[serde(with = "humantime_serde_compat")]
    pub backoff_base: Duration,
    /// Largest back-off.
    #[serde(with = "humantime_serde_compat")]
    pub backoff_max: Duration,
    /// A claimed part's lease.
    #[serde(with = "humantime_serde_compat")]
    pub lease: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            default_ttl: Duration::from_secs(86_400),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(30),
        }
    }
}

/// `[lanes]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanesConfig {
    /// A lane unit's ownership lease.
    #[serde(with = "humantime_serde_compat")]
    pub lease: Duration,
}

impl Default for LanesConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `[[auth.clients]]`.
    pub clients: Vec<ClientConfig>,
}

impl Config {
    /// Whether the sandbox runs: when `sandbox.enabled` says so (file or environment), else
    /// only with the built-in defaults. A configuration file with real callers and channels
    /// that does not mention the sandbox must not get an in-process simulator, a demo key or
    /// a media fetcher that may reach loopback.
    pub fn sandbox_on(&self, source: &Source) -> bool {
        self.sandbox.enabled.unwrap_or(*source == Source::Defaults)
    }
}

/// Durations as "30s", "10m", "24h".
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built-in defaults only (plus the environment).
    Defaults,
    /// This file.
    File(PathBuf),
}

/// Loads the configuration: `--config FILE`, else `config/local.toml` if present, else the
/// built-in defaults; the environment overrides all. The error is one line naming the key.
pub fn load(path: Option<&Path>) -> Result<(Config, Source), GatewayError> {
    let local = Path::new("config/local.toml");
    let source = match path {
        Some(p) => {
            if !p.exists() {
                return Err(GatewayError::Config(format!(
                    "--config {}: no such file",
                    p.display()
                )));
            }
            Source::File(p.to_path_buf())
        }
        None if local.exists() => Source::File(local.to_path_buf()),
        None => Source::Defaults,
    };
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Source::File(p) = &source {
        fig = fig.merge(Toml::file(p));
    }
    fig = fig.merge(Env::prefixed("NOTIFY__").split("__"));
    let config: Config = fig.extract().map_err(|e| {
        let e = keyed(&fig, e);
        let key = e.path.join(".");
        let msg = describe(&e.kind, e.path.last().map(String::as_str));
        GatewayError::Config(if key.is_empty() {
            msg
        } else {
            format!("{key}: {msg}")
        })
    })?;
    validate(&config)?;
    Ok((config, source))
}

/// The error with the key at fault in its path. A `[channels.NAME]` table is read whole before
/// its kind's type reads its keys, so figment's path stops at `channels.NAME`: an unknown key is
/// added back from the error, and a bad value is found by reading the table again as the flat
/// [`ChannelConfig`] (every key of every kind), whose keys figment reads one by one.
fn keyed(fig: &Figment, e: figment::Error) -> figment::Error {
    use figment::error::Kind;
    let [section, name] = e.path.as_slice() else {
        return e;
    };
    if section != "channels" {
        return e;
    }
    if matches!(e.kind, Kind::MissingField(_) | Kind::UnknownVariant(..)) {
        return e; // about `kind`, whose path figment knows
    }
    let table = fig.find_value(&format!("channels.{name}")).ok();
    let flat = match table.map(|v| ChannelConfig::deserialize(&v).err()) {
        Some(Some(mut flat)) if !flat.path.is_empty() => {
            flat.path.splice(0..0, [section.clone(), name.clone()]);
            Some(flat)
        }
        _ => None,
    };
    match (&e.kind, flat) {
        // Inside a key's value (`limits.per_minit`): the flat table's path goes down to it.
        (Kind::UnknownField(..), Some(flat)) if flat.path.len() > 3 => flat,
        // A key of the table: the kind's own list of keys, not every kind's.
        (Kind::UnknownField(found, _), _) => {
            let found = found.clone();
            let mut e = e;
            e.path.push(found);
            e
        }
        (_, Some(flat)) => flat,
        (_, None) => e,
    }
}

/// A figment error in plain words. Its own text for an unknown key nests backticks
/// (`` expected `one of `a`, `b`` ``); this one lists the keys once and suggests the closest.
/// `last` is the last key of the error's path: an unknown key already named there is not
/// repeated.
fn describe(kind: &figment::error::Kind, last: Option<&str>) -> String {
    use figment::error::Kind;
    let (what, found, expected) = match kind {
        Kind::UnknownField(found, expected) => ("key", found, expected),
        Kind::UnknownVariant(found, expected) => ("value", found, expected),
        other => return other.to_string(),
    };
    let quoted: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
    let list = match quoted.split_last() {
        None => "none".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    };
    let closest = expected
        .iter()
        .map(|k| (edit_distance(found, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    let named = if last == Some(found.as_str()) {
        String::new()
    } else {
        format!(" `{found}`")
    };
    match closest {
        Some((_, k)) => format!("unknown {what}{named}: did you mean `{k}`? (expected {list})"),
        None => format!("unknown {what}{named}: expected {list}"),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn validate(c: &Config) -> Result<(), GatewayError> {
    let bad = GatewayError::Config;
    c.server
        .listen
        .parse::<std::net::SocketAddr>()
        .map_err(|e| bad(format!("server.listen: {e}")))?;
    validate_server(&c.server)?;
    notify_store::Dialect::of_url(&c.database.url).map_err(GatewayError::setting)?;
    if !matches!(c.log.format.as_str(), "text" | "json") {
        return Err(bad(format!(
            "log.format: {:?} is neither \"text\" nor \"json\"",
            c.log.format
        )));
    }
    if c.delivery.max_attempts == 0 {
        return Err(bad("delivery.max_attempts: must be at least 1".into()));
    }
    for (i, client) in c.auth.clients.iter().enumerate() {
        if client.access_key.is_empty() {
            return Err(bad(format!("auth.clients[{i}].access_key: is required")));
        }
        if client.secret_key.is_empty() {
            return Err(bad(format!("auth.clients[{i}].secret_key: is required")));
        }
    }
    let mut handles = Vec::with_capacity(c.channels.len());
    for (name, ch) in &c.channels {
        handles.push(notify_channels::build_channel(name, ch).map_err(GatewayError::setting)?);
    }
    notify_channels::registry::check_shared_quotas(&handles).map_err(GatewayError::setting)?;
    validate_hooks(c)?;
    validate_directory(c)?;
    Ok(())
}

/// `[hooks.NAME]`: the hook's own checks (token, routes' regular expressions, templates…).
fn validate_hooks(c: &Config) -> Result<(), GatewayError> {
    notify_api::hooks::Hooks::new(&c.hooks).map_err(GatewayError::setting)?;
    Ok(())
}

/// Every channel a hook names (its targets, its routes' targets and escalation steps' targets,
/// and their fallbacks) is configured. Checked once the channels are final (the sandbox adds
/// its own when the file has none).
pub fn check_hook_channels(c: &Config) -> Result<(), GatewayError> {
    for (name, hook) in &c.hooks {
        for (at, channel) in hook.channel_refs() {
            if !c.channels.contains_key(channel) {
                return Err(GatewayError::Config(format!(
                    "hooks.{name}.{at}: no channel {channel:?} is configured"
                )));
            }
        }
    }
    Ok(())
}

/// A group naming someone `[people]` does not hold stops start-up, naming the key.
fn validate_directory(c: &Config) -> Result<(), GatewayError> {
    for (name, members) in &c.groups {
        for (j, m) in members.iter().enumerate() {
            if !c.people.contains_key(m) {
                return Err(GatewayError::Config(format!(
                    "groups.{name}[{j}]: no [people.{m}] is configured"
                )));
            }
        }
    }
    Ok(())
}

/// Shortest `server.session_secret`: an HMAC-SHA256 key should be as long as its output.
const SESSION_SECRET_MIN_BYTES: usize = 32;

fn validate_server(s: &ServerConfig) -> Result<(), GatewayError> {
    let bad = GatewayError::Config;
    if !s.metrics_listen.is_empty() {
        s.metrics_listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| bad(format!("server.metrics_listen: {e}")))?;
    }
    let secret = s.session_secret.expose().len();
    if secret > 0 && secret < SESSION_SECRET_MIN_BYTES {
        return Err(bad(format!(
            "server.session_secret: must be at least {SESSION_SECRET_MIN_BYTES} bytes, not {secret} (or empty for a random one per start)"
        )));
    }
    for (key, zero) in [
        ("max_inflight_body_bytes", s.max_inflight_body_bytes == 0),
        ("max_connections", s.max_connections == 0),
        ("header_read_timeout", s.header_read_timeout.is_zero()),
        ("request_timeout", s.request_timeout.is_zero()),
    ] {
        if zero {
            return Err(bad(format!("server.{key}: must be more than 0")));
        }
    }
    Ok(())
}

#[cfg(test)]
// figment::Jail's closures return figment::Error, which is large by the library's design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        figment::Jail::expect_with(|jail| {
            let _ = jail;
            let (c, source) = load(None).map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(source, Source::Defaults);
            assert_eq!(c.server.listen, "127.0.0.1:8080");
            assert_eq!(c.database.url, "sqlite://data/notify.db");
            assert!(c.sandbox_on(&source));
            Ok(())
        });
    }

    #[test]
    fn the_directory_is_read_and_a_group_of_an_unknown_person_stops_start_up() {
        figment::Jail::expect_with(|jail| {
            let people = "[people.zhangsan]\nname = \"张三\"\nwelink = \"zhangsan@welink\"\n\
                wecom = \"zhangsan\"\nworkid = \"ww0517\"\n[people.lisi]\nwelink = \"lisi@welink\"\n";
            jail.create_file(
                "ok.toml",
                &format!("{people}[groups]\ndba-oncall = [\"zhangsan\", \"lisi\"]\n"),
            )?;
            jail.create_file(
                "bad.toml",
                &format!("{people}[groups]\ndba-oncall = [\"zhangsan\", \"wangwu\"]\n"),
            )?;
            jail.create_file("typo.toml", "[people.zhangsan]\nwelnk = \"x\"\n")?;
            let (c, _) = load(Some(Path::new("ok.toml"))).unwrap();
            let seed = c.directory_seed();
            assert_eq!(seed.people["zhangsan"].workid.as_deref(), Some("ww0517"));
            assert_eq!(seed.groups["dba-oncall"], ["zhangsan", "lisi"]);
            let e = load(Some(Path::new("bad.toml"))).unwrap_err().to_string();
            assert!(
                e.contains("groups.dba-oncall[1]") && e.contains("wangwu"),
                "{e}"
            );
            let e = load(Some(Path::new("typo.toml"))).unwrap_err().to_string();
            assert!(e.contains("welnk"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn a_config_file_runs_no_sandbox_unless_it_asks() {
        figment::Jail::expect_with(|jail| {
            let real = "[channels.welink]\nkind = \"welink\"\nclient_id = \"a\"\nclient_secret = \"s\"\n\
                [[auth.clients]]\nname = \"m\"\naccess_key = \"AK\"\nsecret_key = \"sk\"\ntenant = \"t\"\nscopes = [\"send\"]\n";
            jail.create_file("real.toml", real)?;
            jail.create_file("empty-section.toml", &format!("{real}[sandbox]\n"))?;
            jail.create_file("asks.toml", &format!("{real}[sandbox]\nenabled = true\n"))?;
            let on = |file: &str| {
                let (c, source) = load(Some(Path::new(file))).unwrap();
                c.sandbox_on(&source)
            };
            assert!(!on("real.toml"));
            assert!(!on("empty-section.toml"));
            assert!(on("asks.toml"));
            jail.set_env("NOTIFY__SANDBOX__ENABLED", "true");
            assert!(on("real.toml"), "the environment may ask for it");
            jail.set_env("NOTIFY__SANDBOX__ENABLED", "false");
            let (c, source) = load(None).unwrap();
            assert!(!c.sandbox_on(&source), "and turn it off for the defaults");
            Ok(())
        });
    }

    #[test]
    fn the_environment_overrides_the_file_and_env_secrets_resolve() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "gw.toml",
                r#"
                [database]
                url = "sqlite://x.db"
                [[auth.clients]]
                name = "m"
                access_key = "AK"
                secret_key = "env:MON_SK"
                tenant = "default"
                scopes = ["send"]
                "#,
            )?;
            jail.set_env("MON_SK", "s3cret");
            jail.set_env("NOTIFY__DATABASE__URL", "postgres://u@h/db");
            jail.set_env("NOTIFY__DELIVERY__MAX_ATTEMPTS", "5");
            let (c, _) = load(Some(Path::new("gw.toml")))
                .map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(c.database.url, "postgres://u@h/db");
            assert_eq!(c.delivery.max_attempts, 5);
            assert_eq!(c.auth.clients[0].secret_key.expose(), "s3cret");
            Ok(())
        });
    }

    #[test]
    fn a_bad_key_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[delivery]\nmax_atempts = 3\n")?;
            let e = load(Some(Path::new("bad.toml"))).unwrap_err().to_string();
            assert!(e.contains("max_atempts"), "{e}");
            // One level of backticks, and the key that was meant.
            assert!(!e.contains("``") && !e.contains("`one of"), "{e}");
            assert!(e.contains("did you mean `max_attempts`?"), "{e}");
            jail.create_file("bad2.toml", "[delivery]\ndefault_ttl = \"soon\"\n")?;
            let e = load(Some(Path::new("bad2.toml"))).unwrap_err().to_string();
            assert!(e.contains("delivery.default_ttl"), "{e}");
            jail.create_file("bad3.toml", "[database]\nurl = \"mysql://x\"\n")?;
            let e = load(Some(Path::new("bad3.toml"))).unwrap_err().to_string();
            assert!(e.contains("database.url"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn a_short_session_secret_and_zero_limits_are_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("s.toml", "[server]\nsession_secret = \"too-short\"\n")?;
            let e = load(Some(Path::new("s.toml"))).unwrap_err().to_string();
            assert!(
                e.contains("server.session_secret") && e.contains("32"),
                "{e}"
            );
            jail.create_file(
                "ok.toml",
                &format!("[server]\nsession_secret = \"{}\"\n", "k".repeat(32)),
            )?;
            load(Some(Path::new("ok.toml"))).map_err(|e| figment::Error::from(e.to_string()))?;
            jail.create_file("z.toml", "[server]\nmax_connections = 0\n")?;
            let e = load(Some(Path::new("z.toml"))).unwrap_err().to_string();
            assert!(e.contains("server.max_connections"), "{e}");
            jail.create_file("m.toml", "[server]\nmetrics_listen = \"nowhere\"\n")?;
            let e = load(Some(Path::new("m.toml"))).unwrap_err().to_string();
            assert!(e.contains("server.metrics_listen"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_env_secret_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[channels.welink]\nkind = \"welink\"\nclient_id = \"a\"\nclient_secret = \"env:NOPE_UNSET\"\n",
            )?;
            let e = load(Some(Path::new("c.toml"))).unwrap_err().to_string();
            assert!(
                e.contains("NOPE_UNSET") && e.contains("client_secret"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_channel_key_is_named_by_its_path() {
        figment::Jail::expect_with(|jail| {
            let xw =
                "[channels.xw]\nkind = \"xiaowei\"\nclient_id = \"a\"\nclient_secret = \"s\"\n";
            let err = |jail: &mut figment::Jail, toml: &str| {
                jail.create_file("c.toml", toml).expect("write");
                let e = load(Some(Path::new("c.toml"))).unwrap_err();
                assert!(
                    matches!(e, GatewayError::Config(_) | GatewayError::Setting(_)),
                    "exit 78: {e}"
                );
                e.to_string()
            };
            // A key of another kind: refused, by its path, with the keys the kind takes.
            let e = err(jail, &format!("{xw}owner = \"Ops\"\n"));
            assert!(
                e.contains("channels.xw.owner: unknown key: expected `base_url`"),
                "{e}"
            );
            assert!(
                e.contains("`daily_quota`") && !e.contains("`public_acc_id`"),
                "{e}"
            );
            // A typo: the key meant.
            let e = err(jail, &format!("{xw}daily_qouta = 5\n"));
            assert!(
                e.contains("channels.xw.daily_qouta: unknown key: did you mean `daily_quota`?"),
                "{e}"
            );
            // A bad value: its key.
            let e = err(jail, &format!("{xw}daily_quota = \"many\"\n"));
            assert!(e.starts_with("config: channels.xw.daily_quota: "), "{e}");
            let e = err(
                jail,
                &format!("{xw}limits = {{ per_second = 1, per_minit = 60 }}\n"),
            );
            assert!(
                e.contains("channels.xw.limits.per_minit: unknown key"),
                "{e}"
            );
            // An unknown kind, or none.
            let e = err(jail, "[channels.x]\nkind = \"fax\"\n");
            assert!(e.contains("channels.x.kind: unknown value `fax`"), "{e}");
            let e = err(jail, "[channels.x]\nbase_url = \"http://h\"\n");
            assert!(e.contains("channels.x: missing field `kind`"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn the_environment_sets_channel_keys_of_the_kinds_type() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[channels.welink]\nkind = \"welink\"\nclient_secret = \"s\"\n",
            )?;
            jail.set_env("NOTIFY__CHANNELS__WELINK__CLIENT_ID", "from-env");
            jail.set_env("NOTIFY__CHANNELS__WELINK__LIMITS__PER_SECOND", "20");
            jail.set_env("NOTIFY__CHANNELS__WELINK__LIMITS__PER_MINUTE", "600");
            jail.set_env("NOTIFY__CHANNELS__WECOM__KIND", "wecom_app");
            jail.set_env("NOTIFY__CHANNELS__WECOM__CORP_ID", "corp");
            jail.set_env("NOTIFY__CHANNELS__WECOM__CORP_SECRET", "s");
            jail.set_env("NOTIFY__CHANNELS__WECOM__AGENT_ID", "1000002");
            jail.set_env("NOTIFY__CHANNELS__WECOM__SAFE", "1");
            jail.set_env("NOTIFY__CHANNELS__WECOM__ALLOW_ALL", "true");
            let (c, _) =
                load(Some(Path::new("c.toml"))).map_err(|e| figment::Error::from(e.to_string()))?;
            let welink = notify_channels::build_channel("welink", &c.channels["welink"])
                .map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(welink.adapter.credential(), "welink:from-env");
            let limits = welink.rate_limits().map(|l| (l.per_second, l.per_minute));
            assert_eq!(limits, Some((20, 600)));
            let app = c.channels["wecom"]
                .as_wecom_app()
                .expect("a wecom_app channel");
            assert_eq!(
                (app.agent_id, app.safe, app.allow_all),
                (Some(1000002), Some(1), true)
            );
            Ok(())
        });
    }

    /// Every example configuration loads through the real loader (the kinds' types refuse any
    /// key their kind does not take, so a key in the wrong table would fail here).
    #[test]
    fn the_example_configurations_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = vec![root.join("config/production.example.toml")];
        for entry in std::fs::read_dir(root.join("config/channels")).expect("config/channels") {
            files.push(entry.expect("entry").path());
        }
        figment::Jail::expect_with(|jail| {
            for file in &files {
                let text = std::fs::read_to_string(file).expect("read");
                for var in text.split("\"env:").skip(1) {
                    let name: String = var.chars().take_while(|c| *c != '"').collect();
                    // Long enough for a session secret.
                    jail.set_env(name, "example-secret-".repeat(3));
                }
                let (c, _) = load(Some(file))
                    .map_err(|e| figment::Error::from(format!("{}: {e}", file.display())))?;
                assert!(!c.channels.is_empty(), "{}", file.display());
            }
            Ok(())
        });
        assert!(files.len() >= 6);
    }

    #[test]
    fn hooks_read_env_tokens_and_a_bad_hook_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PROM_HOOK_TOKEN", "from-env");
            let hook = "[channels.logch]\nkind = \"log\"\n\n[hooks.prometheus]\nformat = \"alertmanager\"\ntoken = \"env:PROM_HOOK_TOKEN\"\ntargets = [{ channel = \"logch\", users = [\"ops\"] }]\n";
            jail.create_file("ok.toml", hook)?;
            let (c, _) = load(Some(Path::new("ok.toml"))).expect("loads");
            assert_eq!(c.hooks["prometheus"].token.expose(), "from-env");
            check_hook_channels(&c).expect("its channel exists");

            jail.create_file(
                "re.toml",
                &format!("{hook}[[hooks.prometheus.routes]]\nmatch_re = {{ severity = \"(\" }}\ntargets = [{{ channel = \"logch\" }}]\n"),
            )?;
            let e = load(Some(Path::new("re.toml"))).unwrap_err();
            assert!(
                matches!(e, GatewayError::Config(_) | GatewayError::Setting(_)),
                "exit 78"
            );
            assert!(
                e.to_string()
                    .contains("hooks.prometheus.routes[0].match_re.severity"),
                "{e}"
            );
            jail.create_file("fmt.toml", &hook.replace("alertmanager", "nagios"))?;
            let e = load(Some(Path::new("fmt.toml"))).unwrap_err().to_string();
            assert!(e.contains("hooks.prometheus.format"), "{e}");
            jail.create_file(
                "ch.toml",
                &hook.replace("channel = \"logch\"", "channel = \"nope\""),
            )?;
            let (c, _) = load(Some(Path::new("ch.toml"))).expect("channels are checked later");
            let e = check_hook_channels(&c).unwrap_err().to_string();
            assert!(e.contains("hooks.prometheus.targets[0].channel"), "{e}");

            // A route's escalation is checked as ingress checks it, and its channels exist.
            let route = |escalation: &str| {
                format!("{hook}[[hooks.prometheus.routes]]\ntargets = [{{ channel = \"logch\" }}]\nescalation = [{escalation}]\n")
            };
            jail.create_file(
                "zero.toml",
                &route("{ after = \"0s\", targets = [{ channel = \"logch\" }] }"),
            )?;
            let e = load(Some(Path::new("zero.toml"))).unwrap_err().to_string();
            assert!(
                e.contains("hooks.prometheus.routes[0].escalation[0].after"),
                "{e}"
            );
            jail.create_file(
                "esc.toml",
                &route("{ after = \"5m\", targets = [{ channel = \"logch\", fallback = { channel = \"nope\" } }] }"),
            )?;
            let (c, _) = load(Some(Path::new("esc.toml"))).expect("channels are checked later");
            let e = check_hook_channels(&c).unwrap_err().to_string();
            assert!(
                e.contains("hooks.prometheus.routes[0].escalation[0].targets[0].fallback.channel"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_hooks_example_loads() {
        figment::Jail::expect_with(|jail| {
            for var in ["PROM_HOOK_TOKEN", "GRAFANA_HOOK_TOKEN", "UPTIME_HOOK_TOKEN"] {
                jail.set_env(var, "example-token");
            }
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hooks.example.toml");
            let (c, _) = load(Some(&path)).expect("config/hooks.example.toml loads");
            assert_eq!(c.hooks.len(), 3);
            Ok(())
        });
    }
}
