//! Escalation steps are outbox rows (contract §7): a step survives a `kill -9` of the gateway
//! between acceptance and its delay and is then sent exactly once, and two replicas on one
//! Postgres send it once between them. Real `serve` processes on a fresh Postgres schema, with
//! a `log` channel (it answers "sent" without an upstream), so every call is one attempt in the
//! message's record. The binary's clock is the wall clock: the steps use a short `after`, and
//! the test polls the message until the step has fired (no fixed sleep).

use notify_e2e::{
    await_some, get_message, postgres_database, start, write_replica_config, Caller, PgSchema,
};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "escalation-test-secret";

/// A scratch folder and Postgres schema, removed at the end (also when a test fails).
struct Scratch {
    dir: std::path::PathBuf,
    schema: PgSchema,
}

impl Scratch {
    fn new(name: &str) -> Self {
        let schema = PgSchema::new();
        Self {
            dir: scratch_dir(name),
            schema,
        }
    }

    /// A gateway's config on `port`; every replica shares the schema and the session secret.
    fn config(&self, port: u16) -> std::path::PathBuf {
        let caller = Caller {
            name: "t",
            access_key: "AK",
            secret: SECRET,
            scopes: &["send", "read"],
        };
        write_replica_config(
            &self.dir,
            port,
            &postgres_database(&self.schema, 4),
            &caller,
            "session_secret = \"shared-by-the-replicas-of-this-test\"",
            "[delivery]\nlease = \"3s\"\n[lanes]\nlease = \"2s\"\n[channels.logch]\nkind = \"log\"",
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Posts a message to `logch` with one step `after` later; returns its id and acknowledge link.
async fn post(client: &reqwest::Client, port: u16, after: &str) -> (String, String) {
    let body = json!({
        "title": "db-3 down",
        "content": "primary unreachable",
        "targets": [{"channel": "logch", "users": ["oncall"]}],
        "escalation": [{"after": after, "targets": [{"channel": "logch", "users": ["boss"]}]}],
    });
    let r = client
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .bearer_auth(SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    (
        v["id"].as_str().unwrap().to_string(),
        v["ack_url"].as_str().unwrap().to_string(),
    )
}

/// Polls the message until its step has fired and ended; fails after `within_secs`.
async fn await_step_sent(client: &reqwest::Client, port: u16, id: &str, within_secs: u64) -> Value {
    let base = format!("http://127.0.0.1:{port}");
    await_some(within_secs, "the step to be sent", || async {
        let v = get_message(client, &base, SECRET, id).await;
        (v["status"] == "sent").then_some(v)
    })
    .await
}

/// The step's delivery was sent with one call, tried once.
fn sent_once(v: &Value) {
    let step = &v["deliveries"][1];
    assert_eq!(step["escalation"]["step"], 0, "{v}");
    assert_eq!(step["escalation"]["state"], "fired", "{v}");
    assert_eq!(step["status"], "sent", "{v}");
    assert_eq!(step["attempts"].as_array().unwrap().len(), 1, "once: {v}");
    assert_eq!(step["parts"][0]["attempts"], 1, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_survives_kill_9_and_fires_once() {
    let scratch = Scratch::new("escalation-crash");
    let port = free_port();
    let config = scratch.config(port);
    let client = reqwest::Client::new();
    let mut gw = start(&config, port).await;
    let (id, _) = post(&client, port, "3s").await;
    let v = get_message(&client, &format!("http://127.0.0.1:{port}"), SECRET, &id).await;
    assert_eq!(v["deliveries"][1]["escalation"]["state"], "pending", "{v}");
    // SIGKILL before the step is due: nothing of it is in memory any more.
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    let port2 = free_port();
    let _gw2 = start(&scratch.config(port2), port2).await;
    let v = await_step_sent(&client, port2, &id, 30).await;
    sent_once(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_send_a_step_once() {
    let scratch = Scratch::new("escalation-replicas");
    let (port_a, port_b) = (free_port(), free_port());
    let _a = start(&scratch.config(port_a), port_a).await;
    let _b = start(&scratch.config(port_b), port_b).await;
    let client = reqwest::Client::new();
    let posted = [
        post(&client, port_a, "2s").await,
        post(&client, port_b, "2s").await,
    ];
    for (id, _) in &posted {
        let v = await_step_sent(&client, port_a, id, 30).await;
        sent_once(&v);
    }
    // The replicas share the secret: a link one made opens on the other.
    let (_, link) = &posted[1];
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port_b}/ack/")),
        "{link}"
    );
    let on_a = link.replace(&port_b.to_string(), &port_a.to_string());
    let r = client.get(on_a).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
