//! Kill -9: a gateway process killed while deliveries are `sending` loses none of them; after
//! their lease the next process delivers them. Runs the real binary against Postgres (a fresh
//! schema) and the simulator.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify_e2e::{get_message, postgres_database, start, write_replica_config, Caller, PgSchema};
use notify_testkit::free_port;
use serde_json::{json, Value};

const SECRET: &str = "crash-test-secret";

const CALLER: Caller = Caller {
    name: "t",
    access_key: "AK",
    secret: SECRET,
    scopes: &["send", "read", "admin"],
};

fn write_config(dir: &Path, schema: &PgSchema, sim: SocketAddr, port: u16) -> PathBuf {
    let extra = format!(
        r#"[delivery]
lease = "3s"
backoff_base = "100ms"
backoff_max = "500ms"
[lanes]
lease = "2s"
[channels.welink]
kind = "welink"
base_url = "http://{sim}/api"
client_id = "crash-client"
client_secret = "s"
owner = "Ops"
"#
    );
    write_replica_config(
        dir,
        port,
        &postgres_database(schema, 4),
        &CALLER,
        "",
        &extra,
    )
}

async fn statuses(client: &reqwest::Client, port: u16, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let v = get_message(client, &format!("http://127.0.0.1:{port}"), SECRET, id).await;
        out.push(v["status"].as_str().unwrap_or("?").to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_loses_nothing() {
    let sim = notify_simulator::Simulator::new();
    let sim_addr = sim
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    // Every card call hangs for 2 s, so the first gateway dies with calls in flight.
    http.post(format!("http://{sim_addr}/_sim/faults"))
        .json(
            &json!({"path": "/api/messages/v2/card/common", "kind": "latency", "latency_ms": 2000}),
        )
        .send()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("notify-crash-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = PgSchema::new();
    let port_a = free_port();
    let cfg_a = write_config(&dir, &schema, sim_addr, port_a);
    let mut a = start(&cfg_a, port_a).await;

    let mut ids = Vec::new();
    for i in 0..20 {
        let v: Value = http
            .post(format!("http://127.0.0.1:{port_a}/v1/messages"))
            .bearer_auth(SECRET)
            .json(&json!({"title": format!("crash {i}"), "content": "x", "targets": [{"channel": "welink", "users": [format!("u{i}@welink")]}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(v["id"].as_str().expect("accepted").to_string());
    }
    // Wait until calls are in flight upstream, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sim
        .calls()
        .iter()
        .any(|c| c.path == "/api/messages/v2/card/common")
    {
        assert!(Instant::now() < deadline, "no call reached the simulator");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let in_flight_at_kill = sim
        .calls()
        .iter()
        .filter(|c| c.path == "/api/messages/v2/card/common")
        .count();

    http.delete(format!("http://{sim_addr}/_sim/faults"))
        .send()
        .await
        .unwrap();
    let port_b = free_port();
    let cfg_b = write_config(&dir, &schema, sim_addr, port_b);
    let _b = start(&cfg_b, port_b).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = statuses(&http, port_b, &ids).await;
        if s.iter().all(|s| s == "sent") {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {s:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each message reached upstream; repeats only among calls whose outcome was unknown at the kill.
    let calls: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|c| c.path == "/api/messages/v2/card/common")
        .collect();
    let mut per_user = std::collections::HashMap::<String, usize>::new();
    for c in &calls {
        let users = c.body["toUserList"].as_array().cloned().unwrap_or_default();
        for u in users {
            *per_user
                .entry(u.as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(per_user.len(), 20, "every recipient was called");
    let duplicates: usize = per_user.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= in_flight_at_kill,
        "duplicates {duplicates} > calls in flight at the kill {in_flight_at_kill}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}
