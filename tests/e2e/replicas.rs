//! Rate limits across replicas (issue 5): real `serve` processes on one Postgres schema against
//! the simulator enforcing WeLink's caps exactly; its call log (`/_sim/stats`) is the judge.
//!
//! - three replicas, seven WeLink lanes of one egress group at full speed (so the per-IP cap of
//!   3000 calls per 20 s binds): the caps hold for the three together; the owner of the busy
//!   lanes is killed with SIGKILL, another replica owns them within 15 s and the caps still hold
//!   across the handover; units of two egress groups are spread over the replicas;
//! - Xiaowei with `daily_quota = 5`, 8 messages, 3 SIGKILLs and a simulated day change (the
//!   simulator's clock and the gateway's `NOTIFY_TIME_TRAVEL_MS` move together): never more
//!   than 5 calls in a day, the rest go on the next day.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use notify_e2e::{postgres_database, write_replica_config, Caller, Launch, PgSchema};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "replicas-test-secret";

/// A scratch folder and Postgres schema, removed at the end (also when a test fails).
struct Scratch {
    dir: PathBuf,
    schema: PgSchema,
}

impl Scratch {
    fn new(name: &str) -> Self {
        Self {
            dir: scratch_dir(name),
            schema: PgSchema::new(),
        }
    }

    /// Writes a config for a gateway on `port` with `channels` (TOML) appended.
    fn config(&self, port: u16, channels: &str) -> PathBuf {
        let extra = format!(
            r#"[delivery]
lease = "4s"
default_ttl = "72h"
backoff_base = "100ms"
backoff_max = "1s"
[lanes]
lease = "10s"
{channels}
"#
        );
        let caller = Caller {
            name: "t",
            access_key: "AK",
            secret: SECRET,
            scopes: &["send", "read", "admin"],
        };
        let database = postgres_database(&self.schema, 6);
        write_replica_config(&self.dir, port, &database, &caller, "", &extra)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `serve` replica (the harness's process, killed when dropped).
struct Gateway(notify_e2e::Gateway);

impl Gateway {
    async fn start(scratch: &Scratch, channels: &str, clock_offset_ms: i64) -> Self {
        let port = free_port();
        let config = scratch.config(port, channels);
        let gw = Launch::serve(&config, port)
            .env("NOTIFY_TIME_TRAVEL_MS", clock_offset_ms.to_string())
            .start(&reqwest::Client::new())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Self(gw)
    }

    fn url(&self, path: &str) -> String {
        self.0.url(path)
    }

    fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// SIGKILL: no drain, no release of leases.
    fn kill(mut self) {
        self.0.kill9();
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> Value {
        http.get(self.url(path))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Owner (replica id) of each lane unit, from `GET /v1/channels`.
    async fn unit_owners(&self, http: &reqwest::Client) -> Vec<(String, Option<String>)> {
        let v = self.get(http, "/v1/channels").await;
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for c in v["channels"].as_array().unwrap() {
            for l in c["lanes"].as_array().unwrap() {
                let unit = l["unit"].as_str().unwrap().to_string();
                let owner = l["owner"].as_str().map(str::to_string);
                if !out.iter().any(|(u, _)| *u == unit) {
                    out.push((unit, owner));
                }
            }
        }
        out.sort();
        out
    }

    /// Posts `n` messages with `targets`; returns their ids.
    async fn post(&self, http: &reqwest::Client, n: usize, targets: Value) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let v: Value = http
                .post(self.url("/v1/messages"))
                .bearer_auth(SECRET)
                .json(&json!({"title": format!("Disk almost full {i}"), "content": "db-3 /var at 95%", "targets": targets}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            ids.push(
                v["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("not accepted: {v}"))
                    .to_string(),
            );
        }
        ids
    }
}

async fn sim_post(http: &reqwest::Client, sim: SocketAddr, path: &str, body: Value) {
    let r = http
        .post(format!("http://{sim}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn sim_stats(http: &reqwest::Client, sim: SocketAddr) -> Value {
    http.get(format!("http://{sim}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The caps and the absence of rate-limit answers, from the simulator's log alone.
fn assert_within_caps(stats: &Value) {
    for lane in stats["welink_interfaces"].as_array().unwrap() {
        assert!(lane["max_1s"].as_u64().unwrap() <= 40, "{lane}");
        assert!(lane["max_60s"].as_u64().unwrap() <= 1500, "{lane}");
    }
    for ip in stats["welink_ips"].as_array().unwrap() {
        assert!(ip["max_20s"].as_u64().unwrap() <= 3000, "{ip}");
    }
    for (path, p) in stats["by_path"].as_object().unwrap() {
        for code in ["48503", "58602"] {
            assert!(
                p["by_code"].get(code).is_none(),
                "{code} on {path}: {p} — the replicas together went over a cap"
            );
        }
    }
}

fn owner_pid(owner: &str) -> Option<u32> {
    owner
        .strip_prefix("replica-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

const LANES: usize = 7;

fn welink_channels(sim: SocketAddr) -> String {
    let mut s = String::new();
    for i in 1..=LANES {
        s.push_str(&format!(
            "[channels.wl{i}]\nkind = \"welink\"\nbase_url = \"http://{sim}/api\"\nclient_id = \"rep-{i}\"\nclient_secret = \"s\"\nowner = \"Ops\"\n"
        ));
    }
    // A second egress group: its own unit, which another replica owns.
    s.push_str(&format!(
        "[channels.other]\nkind = \"welink\"\nbase_url = \"http://{sim}/api\"\nclient_id = \"rep-other\"\nclient_secret = \"s\"\nowner = \"Ops\"\negress_group = \"other\"\n"
    ));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_keep_the_caps_together_and_a_killed_owner_is_replaced_within_15_s() {
    let sim = notify_simulator::Simulator::new();
    let sim_addr = sim
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let scratch = Scratch::new("replicas");
    let channels = welink_channels(sim_addr);
    let mut gws = Vec::new();
    for _ in 0..3 {
        gws.push(Gateway::start(&scratch, &channels, 0).await);
    }
    // One message on each group registers the two units; they spread over two replicas.
    let all: Vec<Value> = (1..=LANES)
        .map(|i| json!({"channel": format!("wl{i}"), "users": [format!("user{i}")]}))
        .collect();
    gws[0].post(&http, 1, json!(all)).await;
    gws[0]
        .post(
            &http,
            1,
            json!([{"channel": "other", "users": ["someone"]}]),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let owners = loop {
        let owners = gws[1].unit_owners(&http).await;
        let distinct: std::collections::HashSet<_> =
            owners.iter().filter_map(|(_, o)| o.clone()).collect();
        if owners.len() == 2 && distinct.len() == 2 {
            break owners;
        }
        assert!(Instant::now() < deadline, "units not spread: {owners:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("units: {owners:?}");

    // Full speed on seven lanes of one group: ~173 calls/s wanted, the IP pace allows 146.
    let ids = gws[2].post(&http, 700, json!(all)).await;
    let card = "/api/messages/v2/card/common";
    let cards =
        |sim: &notify_simulator::Simulator| sim.calls().iter().filter(|c| c.path == card).count();
    // Kill the busy owner once the per-IP window has been full for a while.
    let deadline = Instant::now() + Duration::from_secs(60);
    while cards(&sim) < 3_100 {
        assert!(Instant::now() < deadline, "only {} calls", cards(&sim));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let busy = gws[0].unit_owners(&http).await;
    let owner = busy
        .iter()
        .find(|(u, _)| u == "egress:default")
        .and_then(|(_, o)| o.clone())
        .expect("the busy unit has an owner");
    let pid = owner_pid(&owner).expect("replica ids carry the pid");
    let idx = gws
        .iter()
        .position(|g| g.pid() == pid)
        .expect("owner is ours");
    let victim = gws.remove(idx);
    let killed_at = Instant::now();
    let calls_at_kill = cards(&sim);
    victim.kill();
    let takeover = loop {
        let owners = gws[0].unit_owners(&http).await;
        let now_owner = owners
            .iter()
            .find(|(u, _)| u == "egress:default")
            .and_then(|(_, o)| o.clone());
        if let Some(o) = now_owner {
            if o != owner {
                break killed_at.elapsed();
            }
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(15),
            "no replica took the killed owner's lanes within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The new owner sends: calls resume.
    while cards(&sim) <= calls_at_kill + 100 {
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "no calls after the takeover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("takeover after the kill: {:.1} s", takeover.as_secs_f64());

    // Everything is delivered (parts in flight at the kill after their lease), within caps.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = gws[0].get(&http, "/v1/stats?window=1h").await;
        let sent: i64 = v["channels"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(c, _)| c.starts_with("wl"))
            .map(|(_, s)| s["sent"].as_i64().unwrap_or(0))
            .sum();
        if sent >= (ids.len() * LANES) as i64 + LANES as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {sent} sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = sim_stats(&http, sim_addr).await;
    assert_within_caps(&stats);
    let ip = &stats["welink_ips"][0];
    println!(
        "ip max_20s {} of 3000; lanes: {}",
        ip["max_20s"],
        stats["welink_interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| format!("{}:{}/{}", l["client_id"], l["max_1s"], l["max_60s"]))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(
        ip["max_20s"].as_u64().unwrap() >= 2_700,
        "the per-IP cap was meant to bind: {ip}"
    );
    drop(gws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xiaowei_keeps_its_daily_quota_through_three_kills_and_sends_the_rest_the_next_day() {
    let sim = notify_simulator::Simulator::new();
    let sim_addr = sim
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    // The simulator enforces the same quota: a sixth call in a day would answer 58604.
    sim_post(&http, sim_addr, "/_sim/caps", json!({"xiaowei_daily": 5})).await;
    // The first two pushes hang 30 s upstream (processed, then answered): the first kill leaves
    // two calls whose outcome the gateway never learns, and they must count as used.
    let push = "/api/athenaservice/v1/contextaware/push";
    sim_post(
        &http,
        sim_addr,
        "/_sim/faults",
        json!({"path": push, "kind": "latency", "latency_ms": 30000, "count": 2}),
    )
    .await;
    let scratch = Scratch::new("quota");
    let channels = format!(
        "[channels.xiaowei]\nkind = \"xiaowei\"\nbase_url = \"http://{sim_addr}/api\"\nclient_id = \"quota-xw\"\nclient_secret = \"s\"\ndaily_quota = 5\n"
    );
    let pushes =
        |sim: &notify_simulator::Simulator| sim.calls().iter().filter(|c| c.path == push).count();
    // How many of the 8 are sent, parked until the next day, or neither.
    async fn census(g: &Gateway, http: &reqwest::Client, ids: &[String]) -> (usize, usize) {
        let (mut sent, mut parked) = (0, 0);
        for id in ids {
            let v = g.get(http, &format!("/v1/messages/{id}")).await;
            if v["status"] == "sent" {
                sent += 1;
            } else if v["deliveries"][0]["parts"][0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("next quota day"))
            {
                parked += 1;
            }
        }
        (sent, parked)
    }

    // Kill 1: three sent, three parked over quota, two in flight.
    let a = Gateway::start(&scratch, &channels, 0).await;
    let ids = a
        .post(
            &http,
            8,
            json!([{"channel": "xiaowei", "users": ["zhangsan"]}]),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (sent, parked) = census(&a, &http, &ids).await;
        if sent == 3 && parked == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{sent} sent, {parked} parked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pushes(&sim), 5);
    a.kill();

    // Kill 2: the next process rescues the two orphaned parts after their lease and finds the
    // day's quota spent: they wait for the next day too.
    let b = Gateway::start(&scratch, &channels, 0).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (sent, parked) = census(&b, &http, &ids).await;
        if sent == 3 && parked == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "{sent} sent, {parked} parked");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.kill();
    // Kill 3: a restart on the same day sends nothing.
    let c = Gateway::start(&scratch, &channels, 0).await;
    let q = c.get(&http, "/v1/channels").await;
    println!("quota on day one: {}", q["channels"][0]["quota"]);
    assert_eq!(q["channels"][0]["quota"]["used_today"], 5);
    c.kill();
    assert_eq!(pushes(&sim), 5, "never more than 5 pushes on day one");

    // The day changes for the simulator and for the gateway.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = (now + 8 * 3_600_000).div_euclid(86_400_000);
    let next_day_start = (day + 1) * 86_400_000 - 8 * 3_600_000;
    let offset = next_day_start - now + 60_000;
    sim_post(&http, sim_addr, "/_sim/clock", json!({"offset_ms": offset})).await;
    let d = Gateway::start(&scratch, &channels, offset).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (sent, _) = census(&d, &http, &ids).await;
        if sent == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "{sent} of 8 sent on day two");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = sim_stats(&http, sim_addr).await;
    println!("xiaowei days: {}", stats["xiaowei_days"]);
    for d in stats["xiaowei_days"].as_array().unwrap() {
        assert!(d["counted"].as_u64().unwrap() <= 5, "{d}");
    }
    assert_eq!(
        pushes(&sim),
        10,
        "five a day: the two unknown ones were sent again"
    );
    let codes = &stats["by_path"][push]["by_code"];
    assert!(codes.get("58604").is_none(), "never over quota: {codes}");
}
