//! An alert storm against the real binary, with a kill -9 in the middle of the dedup window:
//! 10,000 firing messages of one key become exactly one WeLink card and one digest card at the
//! simulator, on Postgres and on SQLite. The binary's clock cannot be driven from outside, so
//! the window is real time (30 s: long enough for the burst on a busy debug build, which a
//! shorter window would split into two rounds, correctly) and the digest is awaited by polling
//! the alert (no fixed sleep).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use notify_e2e::{
    await_some, postgres_database, sqlite_url, start, write_replica_config, Caller, PgSchema,
};
use notify_testkit::free_port;
use serde_json::{json, Value};

const SECRET: &str = "storm-test-secret";
const CARDS: &str = "/api/messages/v2/card/common";

const CALLER: Caller = Caller {
    name: "t",
    access_key: "AK",
    secret: SECRET,
    scopes: &["send", "read", "admin"],
};

fn write_config(dir: &Path, database: &str, sim: SocketAddr, port: u16) -> PathBuf {
    let extra = format!(
        r#"[delivery]
lease = "3s"
[lanes]
lease = "2s"
[channels.welink]
kind = "welink"
base_url = "http://{sim}/api"
client_id = "storm-client"
client_secret = "s"
owner = "Ops"
"#
    );
    write_replica_config(dir, port, database, &CALLER, "", &extra)
}

fn firing(i: usize) -> Value {
    json!({
        "title": {"zh": "磁盘将满", "en": "Disk almost full"},
        "content": format!("db-3 /var at 95% (#{i})"),
        "targets": [{"channel": "welink", "users": ["zhangsan@welink"]}],
        "alert": {"key": "db-3/DiskFull", "status": "firing", "dedup_window": "30s"}
    })
}

async fn get(http: &reqwest::Client, port: u16, path: &str) -> Value {
    http.get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn storm_survives_a_kill(database: impl Fn(&Path) -> String) {
    let sim = notify_simulator::Simulator::new();
    let sim_addr = sim
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let dir = std::env::temp_dir().join(format!("notify-storm-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = database(&dir);
    let port_a = free_port();
    let mut a = start(&write_config(&dir, &db, sim_addr, port_a), port_a).await;

    let lead: Value = http
        .post(format!("http://127.0.0.1:{port_a}/v1/messages"))
        .bearer_auth(SECRET)
        .json(&firing(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lead_id = lead["id"].as_str().expect("accepted").to_string();
    for chunk in 0..10 {
        let messages: Vec<Value> = (1..=1_000).map(|i| firing(chunk * 1_000 + i)).collect();
        let answer: Value = http
            .post(format!("http://127.0.0.1:{port_a}/v1/messages/batch"))
            .bearer_auth(SECRET)
            .json(&json!({ "messages": messages }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let results = answer["results"].as_array().expect("a batch answer");
        assert!(
            results
                .iter()
                .all(|r| r["message"]["status"] == "suppressed"),
            "chunk {chunk}: {}",
            results[0]
        );
    }
    // The lead's card has left; the window is still open: kill -9.
    await_some(30, "the lead's card", || async {
        (get(&http, port_a, &format!("/v1/messages/{lead_id}")).await["status"] == "sent")
            .then_some(())
    })
    .await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    let port_b = free_port();
    let _b = start(&write_config(&dir, &db, sim_addr, port_b), port_b).await;
    await_some(120, "the digest's card", || async {
        let alert = get(&http, port_b, "/v1/alerts/db-3%2FDiskFull").await;
        alert["messages"]
            .as_array()
            .is_some_and(|m| {
                m.iter()
                    .any(|m| m["alert_status"] == "digest" && m["status"] == "sent")
            })
            .then_some(())
    })
    .await;
    let alert = get(&http, port_b, "/v1/alerts/db-3%2FDiskFull").await;
    assert_eq!(alert["sent"], 1);
    assert_eq!(alert["suppressed"], 10_000);
    let cards: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|c| c.path == CARDS)
        .collect();
    assert_eq!(cards.len(), 2, "one card and one digest: {cards:?}");
    assert!(
        cards[1].body.to_string().contains("10000"),
        "the digest counts the storm: {}",
        cards[1].body
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_one_card_and_one_digest_across_a_kill_postgres() {
    let schema = PgSchema::new();
    storm_survives_a_kill(|_| postgres_database(&schema, 4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_one_card_and_one_digest_across_a_kill_sqlite() {
    storm_survives_a_kill(|dir| format!("url = \"{}\"", sqlite_url(dir))).await;
}
