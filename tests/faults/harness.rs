//! What every scenario needs: a fresh Postgres schema, the in-process simulator, gateway
//! processes (started, killed, stopped: `notify_e2e`'s harness, the one the tests use), the
//! HTTP calls a caller makes, and readings of the call log, the database and `/proc`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
pub use notify_e2e::Gateway;
use notify_e2e::{Launch, Sink};
use notify_simulator::{RecordedCall, Simulator};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// The error of a scenario's plumbing (not an assertion: those go to [`Report`]).
pub type Res<T> = Result<T, String>;

/// Turns any error into the suite's error with a note of what was being done.
pub trait Ctx<T> {
    /// Adds `what` in front of the error.
    fn ctx(self, what: &str) -> Res<T>;
}

impl<T, E: std::fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Res<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The caller's secret (bearer) and access key (signatures).
pub const SECRET: &str = "faults-secret";
/// The caller's access key.
pub const ACCESS_KEY: &str = "FAULTS";
/// The WeLink card interface every scenario sends through.
pub const CARD: &str = "/api/messages/v2/card/common";

/// Command-line choices shared by the scenarios.
#[derive(Debug, Clone)]
pub struct Opts {
    /// The gateway binary.
    pub bin: PathBuf,
    /// Postgres URL (a database the suite may create schemas in).
    pub pg_url: String,
    /// A `pg_ctl` bound to the cluster behind `pg_url` (data directory and log file given), for
    /// the scenarios that restart Postgres; `None`: the machine's Debian clusters.
    pub pg_ctl: Option<PathBuf>,
    /// Long form (by hand) instead of the short CI form.
    pub long: bool,
}

impl Opts {
    /// `short` in the short form, `long` in the long one.
    pub fn pick<T>(&self, short: T, long: T) -> T {
        if self.long {
            long
        } else {
            short
        }
    }
}

/// What a scenario found: its figure and the assertions that did not hold.
#[derive(Debug, Default)]
pub struct Report {
    /// `key=value` pairs, printed after the scenario's name.
    pub figures: Vec<String>,
    /// Every broken assertion, in words.
    pub failures: Vec<String>,
}

impl Report {
    /// Records a figure.
    pub fn fig(&mut self, key: &str, value: impl std::fmt::Display) {
        self.figures.push(format!("{key}={value}"));
    }

    /// Records a failure unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }
}

/// A channel entry of a gateway configuration: one WeLink credential, hence one lane.
#[derive(Debug, Clone)]
pub struct Chan {
    /// Channel name used in targets.
    pub name: String,
    /// WeLink client_id (the lane's credential).
    pub client_id: String,
    /// Egress group; separate groups let replicas split the lanes.
    pub egress_group: Option<String>,
}

/// `n` WeLink channels `wl0..` with their own client ids; `spread` puts each in its own egress
/// group so that different replicas may own them.
pub fn chans(n: usize, spread: bool) -> Vec<Chan> {
    (0..n)
        .map(|i| Chan {
            name: format!("wl{i}"),
            client_id: format!("faults-c{i}"),
            egress_group: spread.then(|| format!("g{i}")),
        })
        .collect()
}

/// Settings a scenario varies.
#[derive(Debug, Clone)]
pub struct GwSettings {
    /// `delivery.lease`.
    pub delivery_lease: String,
    /// `lanes.lease`.
    pub lane_lease: String,
    /// `server.shutdown_grace`.
    pub grace: String,
    /// `database.max_connections`.
    pub max_connections: u32,
    /// More TOML appended as it is (other channel kinds).
    pub extra_toml: String,
}

impl Default for GwSettings {
    fn default() -> Self {
        Self {
            delivery_lease: "3s".into(),
            lane_lease: "2s".into(),
            grace: "5s".into(),
            max_connections: 6,
            extra_toml: String::new(),
        }
    }
}

/// One scenario's world: a schema, a simulator, a scratch folder, clients.
pub struct Env {
    /// Options.
    pub opts: Opts,
    /// The schema of this scenario (dropped by [`Env::finish`]).
    pub schema: String,
    /// Scratch folder for configurations.
    pub dir: PathBuf,
    /// The simulator.
    pub sim: Simulator,
    /// Where it listens.
    pub sim_addr: SocketAddr,
    /// HTTP client for the gateway and the simulator.
    pub http: reqwest::Client,
    /// Direct database access (tables qualified with the schema).
    pub pg: PgPool,
}

impl Env {
    /// The port the database listens on (from `--pg-url`).
    pub fn database_port(&self) -> Res<u16> {
        use std::str::FromStr;
        let opts = sqlx::postgres::PgConnectOptions::from_str(&self.opts.pg_url).ctx("pg url")?;
        Ok(opts.get_port())
    }

    /// A new world for `name`.
    pub async fn new(opts: &Opts, name: &str) -> Res<Env> {
        let sim = Simulator::new();
        let sim_addr = sim
            .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .ctx("simulator")?;
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let schema = format!("faults_{name}_{}", &id[id.len() - 8..]);
        let dir = std::env::temp_dir().join(format!("notify-faults-{schema}"));
        std::fs::create_dir_all(&dir).ctx("scratch folder")?;
        let pg = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&opts.pg_url)
            .await
            .ctx("postgres")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(256)
            .build()
            .ctx("http client")?;
        Ok(Env {
            opts: opts.clone(),
            schema,
            dir,
            sim,
            sim_addr,
            http,
            pg,
        })
    }

    /// Drops the schema and the scratch folder (kept, and named on stderr, when
    /// `NOTIFY_FAULTS_KEEP` is set: for looking into a failure).
    pub async fn finish(self) {
        if std::env::var_os("NOTIFY_FAULTS_KEEP").is_some() {
            eprintln!("kept schema {} and {}", self.schema, self.dir.display());
            return;
        }
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .execute(&self.pg)
            .await;
        self.pg.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// `table` qualified with this scenario's schema.
    pub fn t(&self, table: &str) -> String {
        format!("{}.{table}", self.schema)
    }

    /// Writes a gateway configuration listening on `port`.
    pub fn config(&self, port: u16, chans: &[Chan], s: &GwSettings) -> Res<PathBuf> {
        let mut text = format!(
            r#"[server]
listen = "127.0.0.1:{port}"
shutdown_grace = "{grace}"
[log]
level = "warn"
[sandbox]
enabled = false
[database]
url = "{pg}"
schema = "{schema}"
max_connections = {maxc}
[delivery]
lease = "{dl}"
backoff_base = "100ms"
backoff_max = "1s"
max_attempts = 50
[lanes]
lease = "{ll}"
[[auth.clients]]
name = "faults"
access_key = "{ACCESS_KEY}"
secret_key = "{SECRET}"
tenant = "default"
scopes = ["send", "read", "admin"]
"#,
            grace = s.grace,
            pg = self.opts.pg_url,
            schema = self.schema,
            maxc = s.max_connections,
            dl = s.delivery_lease,
            ll = s.lane_lease,
        );
        for c in chans {
            text.push_str(&format!(
                "[channels.{}]\nkind = \"welink\"\nbase_url = \"http://{}/api\"\nclient_id = \"{}\"\nclient_secret = \"s\"\nowner = \"Ops\"\n",
                c.name, self.sim_addr, c.client_id
            ));
            if let Some(g) = &c.egress_group {
                text.push_str(&format!("egress_group = \"{g}\"\n"));
            }
        }
        text.push_str(&s.extra_toml);
        let path = self.dir.join(format!("gw-{port}.toml"));
        std::fs::write(&path, text).ctx("write config")?;
        Ok(path)
    }

    /// Starts `notify-gateway serve` and waits until `/readyz` answers 200.
    pub async fn start(&self, config: &Path, port: u16, env: &[(&str, String)]) -> Res<Gateway> {
        // Output goes to a log file beside the configuration, for looking into a failure
        // (`NOTIFY_FAULTS_KEEP=1` keeps the folder).
        let log = Sink::File(config.with_extension("log"));
        let mut launch = Launch::serve(config, port)
            .bin(&self.opts.bin)
            .rust_log("error")
            .stdout(log.clone())
            .stderr(log);
        for (k, v) in env {
            launch = launch.env(k, v);
        }
        launch
            .start(&self.http)
            .await
            .ctx(&format!("start {}", self.opts.bin.display()))
    }

    /// Posts a message to `targets` = [(channel, user)] through the gateway at `port`.
    pub async fn post(
        &self,
        port: u16,
        targets: &[(&str, &str)],
        key: Option<&str>,
    ) -> Res<Posted> {
        let body = message_body(targets, key);
        let r = self
            .http
            .post(format!("http://127.0.0.1:{port}/v1/messages"))
            .bearer_auth(SECRET)
            .json(&body)
            .send()
            .await
            .ctx("POST /v1/messages")?;
        let status = r.status().as_u16();
        let replayed = r.headers().get("idempotent-replayed").is_some();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        Ok(Posted {
            status,
            id: v["id"].as_str().map(str::to_string),
            replayed,
        })
    }

    /// Posts `users` (one message each, through `chan(i)`) with `conc` callers at a time;
    /// returns the ids of the accepted messages by user.
    pub async fn post_many(
        &self,
        port: u16,
        users: &[(String, String)],
        conc: usize,
    ) -> Res<HashMap<String, String>> {
        use futures_util::stream::{self, StreamExt};
        let results: Vec<Res<(String, Posted)>> = stream::iter(users.to_vec())
            .map(|(chan, user)| async move {
                let p = self.post(port, &[(&chan, &user)], None).await?;
                Ok((user, p))
            })
            .buffer_unordered(conc)
            .collect()
            .await;
        let mut ids = HashMap::new();
        for r in results {
            let (user, p) = r?;
            match (p.status, p.id) {
                (202, Some(id)) => {
                    ids.insert(user, id);
                }
                (s, _) => return Err(format!("POST for {user} answered {s}")),
            }
        }
        Ok(ids)
    }

    /// Sets a simulator fault.
    pub async fn fault(&self, spec: Value) -> Res<()> {
        let r = self
            .http
            .post(format!("http://{}/_sim/faults", self.sim_addr))
            .json(&spec)
            .send()
            .await
            .ctx("/_sim/faults")?;
        if !r.status().is_success() {
            return Err(format!("/_sim/faults {spec} answered {}", r.status()));
        }
        Ok(())
    }

    /// Clears every simulator fault.
    pub async fn clear_faults(&self) -> Res<()> {
        self.http
            .delete(format!("http://{}/_sim/faults", self.sim_addr))
            .send()
            .await
            .ctx("/_sim/faults")?;
        Ok(())
    }

    /// `GET /_sim/stats`.
    pub async fn sim_stats(&self) -> Res<Value> {
        self.http
            .get(format!("http://{}/_sim/stats", self.sim_addr))
            .send()
            .await
            .ctx("/_sim/stats")?
            .json()
            .await
            .ctx("/_sim/stats body")
    }

    /// Card calls of the call log.
    pub fn card_calls(&self) -> Vec<RecordedCall> {
        self.sim
            .calls()
            .into_iter()
            .filter(|c| c.path == CARD)
            .collect()
    }

    /// Parts by status.
    pub async fn part_statuses(&self) -> Res<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT status, count(*) FROM {} GROUP BY status",
            self.t("parts")
        ))
        .fetch_all(&self.pg)
        .await
        .ctx("part statuses")?;
        Ok(rows.into_iter().collect())
    }

    /// Waits until no part is queued, sending or blocked (or `limit` passes); returns whether
    /// it happened.
    pub async fn wait_drained(&self, limit: Duration) -> Res<bool> {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.part_statuses().await?;
            let open: i64 = ["queued", "sending", "blocked"]
                .iter()
                .map(|k| s.get(*k).copied().unwrap_or(0))
                .sum();
            if open == 0 {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Messages by status among `ids`.
    pub async fn message_statuses(&self, ids: &[String]) -> Res<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT status, count(*) FROM {} WHERE id = ANY($1) GROUP BY status",
            self.t("messages")
        ))
        .bind(ids)
        .fetch_all(&self.pg)
        .await
        .ctx("message statuses")?;
        Ok(rows.into_iter().collect())
    }
}

/// The answer to one POST.
#[derive(Debug, Clone)]
pub struct Posted {
    /// HTTP status.
    pub status: u16,
    /// The message id when accepted.
    pub id: Option<String>,
    /// `Idempotent-Replayed` was present.
    pub replayed: bool,
}

/// The unified message sending one card to each (channel, user).
pub fn message_body(targets: &[(&str, &str)], key: Option<&str>) -> Value {
    let t: Vec<Value> = targets
        .iter()
        .map(|(c, u)| json!({"channel": c, "users": [u]}))
        .collect();
    let mut v = json!({"title": "fault suite", "content": "x", "targets": t});
    if let Some(k) = key {
        v["idempotency_key"] = json!(k);
    }
    v
}

/// Users a card call reached, when the simulator accepted it (`code` "0").
pub fn delivered_users(c: &RecordedCall) -> Vec<String> {
    if c.answer["code"].as_str() != Some("0") {
        return Vec::new();
    }
    c.body["toUserList"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// How many accepted card calls each user got.
pub fn deliveries_per_user(calls: &[RecordedCall]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for c in calls {
        for u in delivered_users(c) {
            *m.entry(u).or_insert(0) += 1;
        }
    }
    m
}

/// The signature of contract §3.
pub fn signature(ts: &str, method: &str, path: &str, body: &[u8]) -> String {
    use base64::Engine;
    let body_hash = hex::encode(Sha256::digest(body));
    let text = format!("{ACCESS_KEY}\n{ts}\n{method}\n{path}\n{body_hash}");
    let mut mac = match Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A free local port.
pub fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .ctx("free port")?
        .local_addr()
        .ctx("free port")?
        .port())
}

/// Now in unix ms (the suite's own clock, for comparing with the call log's `at_ms`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the suite reads of a running gateway from `/proc`.
pub trait ProcReadings {
    /// Resident set size in KiB.
    fn rss_kb(&self) -> u64;
    /// Open file descriptors, split into connections to the database port and the rest: the
    /// database pools grow up to their caps under load, which is not a leak, so the two are
    /// checked against different bounds.
    fn fds(&self, database_port: u16) -> Fds;
    /// Threads.
    fn threads(&self) -> u64;
}

impl ProcReadings for Gateway {
    fn rss_kb(&self) -> u64 {
        rss_kb(self.pid())
    }

    fn fds(&self, database_port: u16) -> Fds {
        let pid = self.pid();
        let to_database = socket_inodes_to_port(pid, database_port);
        let mut fds = Fds::default();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return fds;
        };
        for entry in dir.flatten() {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok());
            match inode {
                Some(i) if to_database.contains(&i) => fds.database += 1,
                _ => fds.other += 1,
            }
        }
        fds
    }

    fn threads(&self) -> u64 {
        proc_status_field(self.pid(), "Threads:")
    }
}

/// A process's open file descriptors, by what they hold.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fds {
    /// TCP connections to the database's port.
    pub database: usize,
    /// Everything else: listeners, upstream connections, files, pipes, the runtime's own.
    pub other: usize,
}

impl std::fmt::Display for Fds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}+{}db", self.other, self.database)
    }
}

/// Socket inodes of the TCP connections (in the process's network namespace) whose remote
/// port is `port`, from `/proc/PID/net/tcp` and `tcp6`.
fn socket_inodes_to_port(pid: u32, port: u16) -> std::collections::HashSet<u64> {
    let mut inodes = std::collections::HashSet::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let remote_port = cols
                .get(2)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let inode = cols.get(9).and_then(|i| i.parse::<u64>().ok());
            if let (Some(p), Some(i)) = (remote_port, inode) {
                if p == port {
                    inodes.insert(i);
                }
            }
        }
    }
    inodes
}

/// `VmRSS` of a process in KiB.
pub fn rss_kb(pid: u32) -> u64 {
    proc_status_field(pid, "VmRSS:")
}

fn proc_status_field(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The p-th percentile (0..=100) of durations in ms.
pub fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted_ms.len() as f64 - 1.0)).round() as usize;
    sorted_ms[idx.min(sorted_ms.len() - 1)]
}
