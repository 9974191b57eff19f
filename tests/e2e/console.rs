//! The binary serves the admin console: two replicas sharing `server.session_secret` accept one
//! sign-in, and a message sent over the API is read and recalled through the console as the
//! signed-in admin. (The page itself is driven in a browser by `tests/browser/console.test.mjs`.)

use std::io::Write;

use notify_e2e::{serve, wait_ready, Gateway, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "console-binary-admin-secret";

fn start(dir: &std::path::Path, name: &str, db: &std::path::Path) -> (Gateway, String) {
    let port = free_port();
    let config = dir.join(format!("{name}.toml"));
    let mut f = std::fs::File::create(&config).unwrap();
    write!(
        f,
        r#"
[server]
listen = "127.0.0.1:{port}"
shutdown_grace = "2s"
session_secret = "console-binary-session-secret-of-32-bytes"
[sandbox]
enabled = true
[database]
url = "sqlite://{db}"
[[auth.clients]]
name = "ops"
access_key = "ops"
secret_key = "{SECRET}"
scopes = ["admin"]
"#,
        db = db.display()
    )
    .unwrap();
    (
        serve(&config, port, "warn", Sink::Null),
        format!("http://127.0.0.1:{port}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_session_reads_and_recalls_through_the_api_on_every_replica() {
    let dir = scratch_dir("console-binary");
    let db = dir.join("notify.db");
    let (_a, base_a) = start(&dir, "a", &db);
    wait_ready(&base_a).await;
    let (_b, base_b) = start(&dir, "b", &db);
    wait_ready(&base_b).await;
    let http = reqwest::Client::new();

    let page = http.get(format!("{base_a}/console/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    let signed = http
        .post(format!("{base_a}/console/api/sign-in"))
        .header("x-console-csrf", "sign-in")
        .json(&json!({"access_key": "ops", "secret_key": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = signed.json::<Value>().await.unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_string();

    let sent: Value = http
        .post(format!("{base_a}/v1/messages"))
        .bearer_auth(SECRET)
        .json(&json!({"title": "Disk almost full", "content": "db-3",
                      "targets": [{"channel": "log", "users": ["ops"]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap();

    // The other replica accepts the session (one secret) and reads the message through the API.
    let read = http
        .get(format!("{base_b}/console/api/v1/messages/{id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.json::<Value>().await.unwrap()["title"],
        "Disk almost full"
    );

    let recall = |csrf: Option<String>| {
        let mut r = http
            .post(format!("{base_b}/console/api/v1/messages/{id}/recall"))
            .header("cookie", &cookie);
        if let Some(c) = csrf {
            r = r.header("x-console-csrf", c);
        }
        r.send()
    };
    assert_eq!(recall(None).await.unwrap().status(), 403);
    let answer = recall(Some(csrf)).await.unwrap();
    assert_eq!(answer.status(), 202);
    // The API's own answer, as a caller with the key gets it.
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(body["deliveries"][0]["channel"], "log");
    assert_eq!(body["deliveries"][0]["accepted"], true, "{body}");
}
