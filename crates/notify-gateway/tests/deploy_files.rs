//! CI checks for the deployment files, without a Docker engine or a cluster.
//!
//! Reads docker-compose.yml, deploy/kubernetes/*.yaml (multi-document aware), the Dockerfile,
//! README.md and config/**/*.toml, and checks that they agree with each other and with the
//! binary: image name and tag, ports, probe paths, environment keys that name real config keys,
//! `env:NAME` secrets that are actually provided, grace periods longer than the shutdown grace,
//! and the release build command shared by the README and the Dockerfile.
//!
//! When you add a configuration key, add it to `CONFIG_KEYS` below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_norway::Value as Yaml;

const IMAGE: &str = "ghcr.io/notify-gateway/notify-gateway";
const TAG: &str = "0.1.0";
const BUILD_COMMAND: &str = "cargo build --release --locked --bin notify-gateway";
const API_PORT: u64 = 8080;
const SIMULATOR_PORT: u64 = 9090;
const CONFIG_PATH: &str = "/etc/notify-gateway/config.toml";
/// `server.shutdown_grace` when a config does not set it.
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Every configuration key, as a dotted path. `*` stands for a channel's or hook's name (or, in a
/// hook, a target's field or a label); `auth.clients` is an array of tables whose keys are
/// listed as `auth.clients.KEY`.
const CONFIG_KEYS: &[&str] = &[
    "server.listen",
    "server.max_body_bytes",
    "server.public_url",
    "server.session_secret",
    "server.shutdown_grace",
    "server.max_inflight_body_bytes",
    "server.header_read_timeout",
    "server.request_timeout",
    "server.max_connections",
    "server.metrics_listen",
    "server.sidebar_frame_ancestors",
    "log.format",
    "log.level",
    "sandbox.enabled",
    "retention.finished_days",
    "database.url",
    "database.max_connections",
    "delivery.max_attempts",
    "delivery.default_ttl",
    "delivery.backoff_base",
    "delivery.backoff_max",
    "delivery.lease",
    "lanes.lease",
    "hooks.*.format",
    "hooks.*.token",
    "hooks.*.tenant",
    "hooks.*.split",
    "hooks.*.send_resolved",
    "hooks.*.dedup_window",
    "hooks.*.title",
    "hooks.*.content",
    "hooks.*.key",
    "hooks.*.status",
    "hooks.*.url",
    "hooks.*.template.title",
    "hooks.*.template.content",
    "hooks.*.targets.*",
    "hooks.*.routes.match.*",
    "hooks.*.routes.match_re.*",
    "hooks.*.routes.targets.*",
    "hooks.*.routes.escalation.after",
    "hooks.*.routes.escalation.targets.*",
    "auth.clients.name",
    "auth.clients.access_key",
    "auth.clients.secret_key",
    "auth.clients.previous_secret_key",
    "auth.clients.tenant",
    "auth.clients.scopes",
    "auth.clients.max_per_second",
    "auth.clients.connector_signing",
    "people.*.name",
    "people.*.welink",
    "people.*.wecom",
    "people.*.workid",
    "groups.*",
    "channels.*.kind",
    "channels.*.base_url",
    "channels.*.client_id",
    "channels.*.client_secret",
    "channels.*.public_acc_id",
    "channels.*.limits.per_second",
    "channels.*.limits.per_minute",
    "channels.*.egress_group",
    "channels.*.owner",
    "channels.*.daily_quota",
    "channels.*.token_url",
    "channels.*.token_auth",
    "channels.*.company_id",
    "channels.*.member_limits.per_minute",
    "channels.*.member_limits.per_hour",
    "channels.*.corp_id",
    "channels.*.corp_secret",
    "channels.*.agent_id",
    "channels.*.safe",
    "channels.*.markdown_max_bytes",
    "channels.*.allow_all",
    "channels.*.auto_send",
    "channels.*.jssdk_channel",
    "channels.*.tenant",
];

const CHANNEL_KINDS: &[&str] = &["welink", "xiaowei", "wecom_workid", "wecom_app", "juzi"];

// ---------------------------------------------------------------------------------------------
// helpers

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml_docs(rel: &str) -> Vec<Yaml> {
    let text = read(rel);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Yaml::deserialize(doc).unwrap_or_else(|e| panic!("{rel}: invalid YAML: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn get<'a>(v: &'a Yaml, path: &str) -> &'a Yaml {
    let mut cur = v;
    for key in path.split('.') {
        cur = match key.parse::<usize>() {
            Ok(i) if cur.is_sequence() => cur.get(i),
            _ => cur.get(key),
        }
        .unwrap_or_else(|| panic!("missing `{path}` (at `{key}`) in {}", short(v)));
    }
    cur
}

fn opt<'a>(v: &'a Yaml, path: &str) -> Option<&'a Yaml> {
    let mut cur = v;
    for key in path.split('.') {
        cur = cur.get(key)?;
    }
    Some(cur)
}

fn s<'a>(v: &'a Yaml, path: &str) -> &'a str {
    get(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

fn seq<'a>(v: &'a Yaml, path: &str) -> &'a Vec<Yaml> {
    get(v, path)
        .as_sequence()
        .unwrap_or_else(|| panic!("`{path}` is not a list"))
}

fn short(v: &Yaml) -> String {
    let text = serde_norway::to_string(v).unwrap_or_default();
    text.chars().take(200).collect()
}

fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .expect("a list")
        .iter()
        .map(|x| match x {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            other => panic!("not a scalar: {}", short(other)),
        })
        .collect()
}

/// "20s", "500ms", "10m", "1h" (what the config files use).
fn duration(text: &str) -> Duration {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .unwrap_or_else(|_| panic!("bad duration {text:?}"));
    match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        other => panic!("unknown duration unit {other:?} in {text:?}"),
    }
}

fn toml_table(text: &str, origin: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("{origin}: invalid TOML: {e}"))
}

/// Dotted paths of every leaf key, with array-of-table elements flattened into their array's path.
fn config_paths(table: &toml::Table) -> Vec<Vec<String>> {
    fn walk(prefix: &[String], value: &toml::Value, out: &mut Vec<Vec<String>>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let mut p = prefix.to_vec();
                    p.push(k.clone());
                    walk(&p, v, out);
                }
            }
            toml::Value::Array(items)
                if items.iter().all(|i| i.is_table()) && !items.is_empty() =>
            {
                for item in items {
                    walk(prefix, item, out);
                }
            }
            _ => out.push(prefix.to_vec()),
        }
    }
    let mut out = Vec::new();
    walk(&[], &toml::Value::Table(table.clone()), &mut out);
    out
}

fn is_config_key(path: &[String]) -> bool {
    CONFIG_KEYS.iter().any(|known| {
        let parts: Vec<&str> = known.split('.').collect();
        parts.len() == path.len() && parts.iter().zip(path).all(|(k, p)| *k == "*" || k == p)
    })
}

/// `NOTIFY__CHANNELS__WELINK__CLIENT_ID` -> `channels.welink.client_id` (figment's mapping).
fn env_key_to_path(key: &str) -> Option<Vec<String>> {
    let rest = key.strip_prefix("NOTIFY__")?;
    Some(rest.split("__").map(|p| p.to_ascii_lowercase()).collect())
}

fn assert_config_keys_known(table: &toml::Table, origin: &str) {
    for path in config_paths(table) {
        assert!(
            is_config_key(&path),
            "{origin}: `{}` is not a configuration key (typo? or add it to CONFIG_KEYS)",
            path.join(".")
        );
    }
    if let Some(channels) = table.get("channels").and_then(|c| c.as_table()) {
        for (name, channel) in channels {
            let kind = channel.get("kind").and_then(|k| k.as_str());
            assert!(
                kind.is_some_and(|k| CHANNEL_KINDS.contains(&k)),
                "{origin}: channels.{name}.kind is {kind:?}, expected one of {CHANNEL_KINDS:?}"
            );
        }
    }
}

/// Every `"env:NAME"` a config refers to.
fn env_refs(table: &toml::Table) -> BTreeSet<String> {
    fn walk(v: &toml::Value, out: &mut BTreeSet<String>) {
        match v {
            toml::Value::String(s) => {
                if let Some(name) = s.strip_prefix("env:") {
                    out.insert(name.to_string());
                }
            }
            toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(&toml::Value::Table(table.clone()), &mut out);
    out
}

fn shutdown_grace(table: &toml::Table) -> Duration {
    table
        .get("server")
        .and_then(|s| s.get("shutdown_grace"))
        .and_then(|g| g.as_str())
        .map(duration)
        .unwrap_or(DEFAULT_SHUTDOWN_GRACE)
}

/// The environment of a process: `NOTIFY__…` keys must name config keys, every other key must be
/// a secret the config refers to as `env:NAME`; and every `env:NAME` must be provided.
fn check_environment(origin: &str, env: &BTreeMap<String, String>, config: &toml::Table) {
    let refs = env_refs(config);
    for key in env.keys() {
        if key.starts_with("NOTIFY__") {
            let path = env_key_to_path(key).unwrap();
            assert!(
                is_config_key(&path),
                "{origin}: {key} names `{}`, which is not a configuration key",
                path.join(".")
            );
        } else {
            assert!(
                refs.contains(key),
                "{origin}: {key} is neither NOTIFY__SECTION__KEY nor an \"env:{key}\" of the config"
            );
        }
    }
    for name in &refs {
        assert!(
            env.contains_key(name),
            "{origin}: the config refers to \"env:{name}\" but nothing sets {name}"
        );
    }
    let has_db = env.contains_key("NOTIFY__DATABASE__URL")
        || config.get("database").and_then(|d| d.get("url")).is_some();
    assert!(has_db, "{origin}: no database.url");
    let url = env
        .get("NOTIFY__DATABASE__URL")
        .cloned()
        .or_else(|| config["database"]["url"].as_str().map(str::to_string))
        .unwrap();
    assert!(
        url.starts_with("postgres://"),
        "{origin}: a deployment needs Postgres, database.url is {url}"
    );
}

fn yaml_env_map(v: &Yaml) -> BTreeMap<String, String> {
    match v {
        Yaml::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let val = match v {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Null => String::new(),
                    other => panic!("env value {}", short(other)),
                };
                (k.as_str().expect("env key").to_string(), val)
            })
            .collect(),
        Yaml::Sequence(items) => items
            .iter()
            .map(|item| {
                let text = item.as_str().expect("KEY=VALUE");
                let (k, v) = text.split_once('=').unwrap_or((text, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        other => panic!("environment is neither a map nor a list: {}", short(other)),
    }
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

#[test]
fn compose_file_gives_a_working_system() {
    let docs = yaml_docs("docker-compose.yml");
    assert_eq!(docs.len(), 1, "docker-compose.yml: one document");
    let compose = &docs[0];
    let services = get(compose, "services");
    for name in ["postgres", "gateway", "simulator"] {
        assert!(
            services.get(name).is_some(),
            "compose: service `{name}` missing"
        );
    }

    // Postgres: a named volume and a healthcheck.
    let pg = get(services, "postgres");
    assert!(
        s(pg, "image").starts_with("postgres:"),
        "compose: postgres image"
    );
    let volumes = strings(get(pg, "volumes"));
    let data_volume = volumes
        .iter()
        .find(|v| v.ends_with(":/var/lib/postgresql/data"))
        .expect("compose: postgres needs a volume on /var/lib/postgresql/data");
    let volume_name = data_volume.split(':').next().unwrap();
    assert!(
        get(compose, "volumes").get(volume_name).is_some(),
        "compose: volume `{volume_name}` must be declared at the top level (named, not a bind mount)"
    );
    let pg_check = strings(get(pg, "healthcheck.test")).join(" ");
    assert!(
        pg_check.contains("pg_isready"),
        "compose: postgres healthcheck should use pg_isready"
    );

    // The gateway and the simulator: our image, built from this repository.
    for name in ["gateway", "simulator"] {
        let svc = get(services, name);
        assert_eq!(
            s(svc, "image"),
            format!("{IMAGE}:{TAG}"),
            "compose: {name} image"
        );
        let build = get(svc, "build");
        let context = build
            .as_str()
            .or_else(|| opt(build, "context").and_then(|c| c.as_str()));
        assert_eq!(context, Some("."), "compose: {name} builds from `.`");
    }

    let sim = get(services, "simulator");
    assert_eq!(
        strings(get(sim, "command")),
        ["simulate", "--listen", &format!("0.0.0.0:{SIMULATOR_PORT}")],
        "compose: simulator command"
    );
    assert!(
        strings(get(sim, "ports"))
            .iter()
            .any(|p| p.ends_with(&format!(":{SIMULATOR_PORT}"))),
        "compose: simulator publishes {SIMULATOR_PORT}"
    );
    // The image's HEALTHCHECK probes :8080; the simulator must override it.
    let sim_check = strings(get(sim, "healthcheck.test")).join(" ");
    assert!(
        sim_check.contains(&format!(":{SIMULATOR_PORT}")),
        "compose: simulator healthcheck must probe :{SIMULATOR_PORT}"
    );

    let gw = get(services, "gateway");
    assert_eq!(
        s(gw, "depends_on.postgres.condition"),
        "service_healthy",
        "compose: the gateway waits for a healthy Postgres"
    );
    assert!(
        get(gw, "depends_on").get("simulator").is_some(),
        "compose: the gateway depends on the simulator"
    );
    assert!(
        strings(get(gw, "ports"))
            .iter()
            .any(|p| p.ends_with(&format!(":{API_PORT}"))),
        "compose: gateway publishes {API_PORT}"
    );
    assert_eq!(
        strings(get(gw, "command")),
        ["serve", "--config", CONFIG_PATH],
        "compose: gateway command"
    );

    // The mounted config file (inline `configs:` content).
    let mounts = seq(gw, "configs");
    let mount = mounts
        .iter()
        .find(|m| m.get("target").and_then(|t| t.as_str()) == Some(CONFIG_PATH))
        .expect("compose: a config mounted at CONFIG_PATH");
    let source = s(mount, "source");
    let content = s(get(get(compose, "configs"), source), "content");
    let config = toml_table(content, "compose config");
    assert_config_keys_known(&config, "compose config");

    let env = yaml_env_map(get(gw, "environment"));
    assert_eq!(
        env.get("NOTIFY__SERVER__LISTEN").map(String::as_str),
        Some("0.0.0.0:8080")
    );
    check_environment("compose gateway", &env, &config);

    // Every channel talks to the simulator by default.
    let channels = config["channels"]
        .as_table()
        .expect("compose config: [channels]");
    assert!(!channels.is_empty());
    let kinds: BTreeSet<&str> = channels
        .values()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        CHANNEL_KINDS.iter().copied().collect(),
        "compose config: one channel of each kind"
    );
    for (name, ch) in channels {
        for key in ["base_url", "token_url"] {
            if let Some(url) = ch.get(key).and_then(|u| u.as_str()) {
                assert!(
                    url.starts_with(&format!("http://simulator:{SIMULATOR_PORT}")),
                    "compose config: channels.{name}.{key} = {url} should point at the simulator"
                );
            }
        }
    }
    let sandbox = config
        .get("sandbox")
        .and_then(|s| s.get("enabled"))
        .and_then(|e| e.as_bool());
    assert_eq!(
        sandbox,
        Some(false),
        "compose config: the simulator service replaces the in-process sandbox"
    );

    // Compose must wait longer than the gateway's drain before SIGKILL (its default is 10 s).
    let stop = duration(s(gw, "stop_grace_period"));
    assert!(
        stop > shutdown_grace(&config),
        "compose: stop_grace_period {stop:?} must exceed server.shutdown_grace {:?}",
        shutdown_grace(&config)
    );
}

// ---------------------------------------------------------------------------------------------
// deploy/kubernetes

struct Manifests {
    by_kind: BTreeMap<String, Vec<Yaml>>,
    files: BTreeSet<String>,
}

impl Manifests {
    fn load() -> Self {
        let dir = repo_root().join("deploy/kubernetes");
        let mut by_kind: BTreeMap<String, Vec<Yaml>> = BTreeMap::new();
        let mut files = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).expect("deploy/kubernetes") {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                continue;
            }
            for doc in yaml_docs(&format!("deploy/kubernetes/{name}")) {
                let kind = s(&doc, "kind").to_string();
                if kind != "Kustomization" {
                    assert!(doc.get("apiVersion").is_some(), "{name}: apiVersion");
                    assert!(
                        opt(&doc, "metadata.name").is_some(),
                        "{name}: metadata.name"
                    );
                }
                by_kind.entry(kind).or_default().push(doc);
            }
            files.insert(name);
        }
        Manifests { by_kind, files }
    }

    fn one(&self, kind: &str) -> &Yaml {
        let all = self
            .by_kind
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind} in deploy/kubernetes"));
        assert_eq!(all.len(), 1, "exactly one {kind}");
        &all[0]
    }
}

fn labels_match(selector: &Yaml, labels: &Yaml) -> bool {
    selector
        .as_mapping()
        .expect("selector labels")
        .iter()
        .all(|(k, v)| labels.get(k.as_str().unwrap()) == Some(v))
}

fn container_env(container: &Yaml, m: &Manifests) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Some(list) = container.get("env") {
        for e in list.as_sequence().unwrap() {
            let value = e
                .get("value")
                .and_then(|v| v.as_str())
                .unwrap_or("<from valueFrom>");
            env.insert(s(e, "name").to_string(), value.to_string());
        }
    }
    if let Some(list) = container.get("envFrom") {
        for src in list.as_sequence().unwrap() {
            let name = s(src, "secretRef.name");
            let secret = m.one("Secret");
            assert_eq!(
                s(secret, "metadata.name"),
                name,
                "envFrom names the Secret of secret.example.yaml"
            );
            for (k, v) in get(secret, "stringData").as_mapping().unwrap() {
                env.insert(
                    k.as_str().unwrap().to_string(),
                    v.as_str().unwrap_or("").to_string(),
                );
            }
        }
    }
    env
}

fn configmap_config(m: &Manifests, pod_spec: &Yaml, container: &Yaml) -> toml::Table {
    // The container reads CONFIG_PATH from a volume backed by the ConfigMap.
    let args = strings(get(container, "args"));
    let at = args
        .iter()
        .position(|a| a == "--config")
        .expect("--config in args");
    assert_eq!(args[at + 1], CONFIG_PATH);
    let mount = seq(container, "volumeMounts")
        .iter()
        .find(|vm| CONFIG_PATH.starts_with(&format!("{}/", s(vm, "mountPath"))))
        .expect("a volume mounted over the config's directory");
    let volume = seq(pod_spec, "volumes")
        .iter()
        .find(|v| s(v, "name") == s(mount, "name"))
        .expect("the mounted volume");
    let cm = m.one("ConfigMap");
    assert_eq!(
        s(volume, "configMap.name"),
        s(cm, "metadata.name"),
        "config volume uses the ConfigMap"
    );
    let file = CONFIG_PATH.rsplit('/').next().unwrap();
    let text = get(cm, "data")
        .get(file)
        .and_then(|t| t.as_str())
        .unwrap_or_else(|| panic!("ConfigMap data.{file}"));
    toml_table(text, "configmap config.toml")
}

#[test]
fn kubernetes_manifests_are_consistent() {
    let m = Manifests::load();
    let image = format!("{IMAGE}:{TAG}");

    // Kustomize base: lists files that exist, pins the image, leaves the example Secret out.
    let kustomization = m.one("Kustomization");
    let resources = strings(get(kustomization, "resources"));
    for r in &resources {
        assert!(
            m.files.contains(r),
            "kustomization.yaml lists {r}, which is not in deploy/kubernetes"
        );
    }
    for needed in [
        "deployment.yaml",
        "service.yaml",
        "configmap.yaml",
        "pdb.yaml",
    ] {
        assert!(
            resources.iter().any(|r| r == needed),
            "kustomization.yaml must list {needed}"
        );
    }
    assert!(
        !resources.iter().any(|r| r.starts_with("secret")),
        "the example Secret must not be a resource of the base (it would overwrite the real one)"
    );
    let pinned = seq(kustomization, "images")
        .iter()
        .find(|i| s(i, "name") == IMAGE)
        .expect("kustomization.yaml: images entry for our image");
    assert_eq!(s(pinned, "newTag"), TAG);

    // Deployment.
    let dep = m.one("Deployment");
    let replicas = get(dep, "spec.replicas").as_u64().expect("replicas");
    assert_eq!(replicas, 3, "3 replicas");
    let pod_labels = get(dep, "spec.template.metadata.labels");
    assert!(
        labels_match(get(dep, "spec.selector.matchLabels"), pod_labels),
        "Deployment selector matches its pods"
    );
    let max_unavailable =
        opt(dep, "spec.strategy.rollingUpdate.maxUnavailable").and_then(|v| v.as_u64());
    assert_eq!(
        max_unavailable,
        Some(0),
        "rolling updates keep every replica until its successor is ready"
    );

    let pod = get(dep, "spec.template.spec");
    let containers = seq(pod, "containers");
    assert_eq!(containers.len(), 1, "one container");
    let c = &containers[0];
    assert_eq!(s(c, "image"), image, "Deployment image");
    assert_eq!(strings(get(c, "args"))[0], "serve");
    let port = seq(c, "ports")
        .iter()
        .find(|p| get(p, "containerPort").as_u64() == Some(API_PORT))
        .expect("containerPort 8080");
    let port_name = s(port, "name").to_string();

    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(s(c, &format!("{probe}.httpGet.path")), path, "{probe} path");
        let p = get(c, &format!("{probe}.httpGet.port"));
        assert!(
            p.as_u64() == Some(API_PORT) || p.as_str() == Some(&port_name),
            "{probe} probes the API port"
        );
    }
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(
                opt(c, &format!("resources.{kind}.{res}")).is_some(),
                "resources.{kind}.{res}"
            );
        }
    }
    assert_eq!(
        opt(pod, "securityContext.runAsNonRoot").and_then(|v| v.as_bool()),
        Some(true),
        "pods run as non-root"
    );

    let config = configmap_config(&m, pod, c);
    assert_config_keys_known(&config, "configmap config.toml");
    let env = container_env(c, &m);
    assert_eq!(
        env.get("NOTIFY__SERVER__LISTEN").map(String::as_str),
        Some("0.0.0.0:8080")
    );
    check_environment("Deployment", &env, &config);

    // The kubelet's kill timeout covers preStop + the gateway's drain.
    let grace = Duration::from_secs(
        get(pod, "terminationGracePeriodSeconds")
            .as_u64()
            .expect("grace"),
    );
    let pre_stop = opt(c, "lifecycle.preStop.sleep.seconds")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let needed = shutdown_grace(&config) + Duration::from_secs(pre_stop);
    assert!(
        grace > needed,
        "terminationGracePeriodSeconds {grace:?} must exceed preStop {pre_stop}s + shutdown_grace {:?}",
        shutdown_grace(&config)
    );

    // Service.
    let svc = m.one("Service");
    assert!(
        labels_match(get(svc, "spec.selector"), pod_labels),
        "Service selects the gateway pods"
    );
    let sport = &seq(svc, "spec.ports")[0];
    assert_eq!(get(sport, "port").as_u64(), Some(API_PORT));
    let target = get(sport, "targetPort");
    assert!(
        target.as_u64() == Some(API_PORT) || target.as_str() == Some(&port_name),
        "Service targetPort"
    );

    // PodDisruptionBudget: protects the pods and still lets a drain proceed.
    let pdb = m.one("PodDisruptionBudget");
    assert!(
        labels_match(get(pdb, "spec.selector.matchLabels"), pod_labels),
        "PDB selects the gateway pods"
    );
    let allowed = match (
        opt(pdb, "spec.maxUnavailable"),
        opt(pdb, "spec.minAvailable"),
    ) {
        (Some(max), None) => max.as_u64().expect("maxUnavailable as a number"),
        (None, Some(min)) => replicas - min.as_u64().expect("minAvailable as a number"),
        _ => panic!("PDB: exactly one of maxUnavailable / minAvailable"),
    };
    assert!(
        allowed >= 1 && allowed < replicas,
        "PDB allows {allowed} of {replicas} pods down"
    );

    // Migration: a Job (or an initContainer) running `migrate` with the same image and config.
    let mut migrators: Vec<(&Yaml, &Yaml)> = Vec::new();
    if let Some(jobs) = m.by_kind.get("Job") {
        for job in jobs {
            let jpod = get(job, "spec.template.spec");
            let restart = s(jpod, "restartPolicy");
            assert!(
                restart == "Never" || restart == "OnFailure",
                "Job restartPolicy"
            );
            for jc in seq(jpod, "containers") {
                migrators.push((jpod, jc));
            }
        }
    }
    if let Some(inits) = pod.get("initContainers") {
        for ic in inits.as_sequence().unwrap() {
            migrators.push((pod, ic));
        }
    }
    let migrators: Vec<_> = migrators
        .into_iter()
        .filter(|(_, c)| strings(get(c, "args")).first().map(String::as_str) == Some("migrate"))
        .collect();
    assert!(
        !migrators.is_empty(),
        "a Job or initContainer runs `notify-gateway migrate`"
    );
    for (mpod, mc) in migrators {
        assert_eq!(s(mc, "image"), image, "migration image");
        let mconfig = configmap_config(&m, mpod, mc);
        check_environment("migration", &container_env(mc, &m), &mconfig);
    }

    // The example Secret: NOTIFY__ keys are config keys, the rest are referenced secrets.
    let secret = m.one("Secret");
    assert!(
        secret.get("data").is_none(),
        "the example Secret uses stringData (readable placeholders)"
    );
    let secret_env: BTreeMap<String, String> = get(secret, "stringData")
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    check_environment("Secret", &secret_env, &config);
}

// ---------------------------------------------------------------------------------------------
// config/

#[test]
fn config_examples_parse_and_use_real_keys() {
    let mut seen = 0;
    for dir in ["config", "config/channels"] {
        for entry in
            std::fs::read_dir(repo_root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"))
        {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let rel = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            if rel == "config/local.toml" {
                continue; // a developer's own file, not committed
            }
            let table = toml_table(&read(&rel), &rel);
            assert_config_keys_known(&table, &rel);
            if dir == "config/channels" {
                let kind = path.file_stem().unwrap().to_string_lossy().to_string();
                let channels = table["channels"]
                    .as_table()
                    .unwrap_or_else(|| panic!("{rel}: [channels.NAME]"));
                assert!(
                    channels
                        .values()
                        .all(|c| c["kind"].as_str() == Some(kind.as_str())),
                    "{rel}: every channel in it is of kind {kind}"
                );
            }
            seen += 1;
        }
    }
    for kind in CHANNEL_KINDS {
        assert!(
            repo_root()
                .join(format!("config/channels/{kind}.toml"))
                .exists(),
            "config/channels/{kind}.toml"
        );
    }
    for f in ["config/default.toml", "config/production.example.toml"] {
        assert!(repo_root().join(f).exists(), "{f}");
    }
    assert!(seen >= 7);

    // default.toml states the defaults the deployment files rely on.
    let defaults = toml_table(&read("config/default.toml"), "config/default.toml");
    assert_eq!(shutdown_grace(&defaults), DEFAULT_SHUTDOWN_GRACE);
    assert_eq!(
        defaults["server"]["listen"].as_str(),
        Some("127.0.0.1:8080")
    );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile and README

#[test]
fn dockerfile_builds_like_the_readme() {
    let dockerfile = read("Dockerfile");
    // Logical lines: join backslash continuations.
    let joined = dockerfile.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();

    let froms: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .collect();
    assert!(froms.len() >= 2, "multi-stage Dockerfile");
    assert!(
        froms[0].contains("rust:1.95-slim-bookworm"),
        "build stage image: {}",
        froms[0]
    );
    let runtime = froms.last().unwrap();
    assert!(
        runtime.contains("gcr.io/distroless/cc-debian12")
            || runtime.contains("debian:bookworm-slim"),
        "slim runtime image: {runtime}"
    );

    // The build command runs in the build stage (before the last FROM).
    let last_from = lines
        .iter()
        .rposition(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .unwrap();
    assert!(
        lines[..last_from]
            .iter()
            .any(|l| l.starts_with("RUN ") && l.contains(BUILD_COMMAND)),
        "the build stage must RUN exactly `{BUILD_COMMAND}`"
    );
    assert!(
        dockerfile.contains("migrations") || lines.iter().any(|l| l.starts_with("COPY . ")),
        "migrations/ reaches the build stage"
    );

    let runtime_lines = &lines[last_from..];
    let user = runtime_lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("USER in the runtime stage");
    let who = user.trim_start_matches("USER ").trim();
    assert!(
        !matches!(who, "root" | "0" | "0:0"),
        "runtime user is not root: {who}"
    );
    let health = runtime_lines
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("HEALTHCHECK");
    assert!(
        health.contains("healthcheck") || health.contains("/healthz"),
        "HEALTHCHECK probes /healthz: {health}"
    );
    assert!(
        runtime_lines
            .iter()
            .any(|l| *l == format!("EXPOSE {API_PORT}")),
        "EXPOSE {API_PORT}"
    );
    assert!(
        runtime_lines
            .iter()
            .any(|l| l.contains("/usr/local/bin/notify-gateway")),
        "the one binary"
    );
    assert!(
        runtime_lines
            .iter()
            .any(|l| l.starts_with("ENV ") && l.contains("NOTIFY__SERVER__LISTEN=0.0.0.0:8080")),
        "the image listens on all interfaces"
    );

    let cmd = runtime_lines
        .iter()
        .rev()
        .find(|l| l.starts_with("CMD "))
        .expect("CMD in the runtime stage");
    assert!(
        cmd.contains("\"serve\"") && cmd.contains(&format!("\"--config\", \"{CONFIG_PATH}\"")),
        "the default command serves a mounted configuration, never the sandbox: {cmd}"
    );

    let dockerignore = read(".dockerignore");
    assert!(
        dockerignore.lines().any(|l| l.trim() == "target"),
        ".dockerignore excludes target"
    );

    let readme = read("README.md");
    assert!(
        readme.contains(BUILD_COMMAND),
        "README.md must show the release build command `{BUILD_COMMAND}` (the Dockerfile runs exactly it)"
    );
}
