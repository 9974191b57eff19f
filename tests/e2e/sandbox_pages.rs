//! The sandbox links its simulator to the gateway: the real binary serves with the sandbox, a
//! Juzi message waits, and the simulator's `/_sim/juzi/chats` lists that chat with the
//! gateway's sidebar address, while the sidebar serves its sandbox bridge. (The pages
//! themselves are driven in a browser by `tests/browser/sandbox.test.mjs`.)

use std::io::{BufRead, BufReader};

use notify_e2e::{serve, wait_ready, write_config, Caller, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "sandbox-pages-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_lists_the_gateways_waiting_juzi_chats() {
    let dir = scratch_dir("sandbox-pages");
    let port = free_port();
    let caller = Caller {
        name: "demo",
        access_key: "demo",
        secret: SECRET,
        scopes: &["send", "read"],
    };
    let config = write_config(
        &dir,
        port,
        &caller,
        "shutdown_grace = \"2s\"\nsession_secret = \"sandbox-pages-session-secret-of-32-bytes\"",
        "[sandbox]\nenabled = true",
    );
    let mut gw = serve(&config, port, "warn", Sink::Piped).owning(dir);
    let stdout = gw.child.stdout.take().unwrap();
    // The start-up block names the simulator's address. The rest of stdout is drained, so the
    // gateway never writes to a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("sandbox simulator: ") {
                let _ = tx.send(rest.split("/_sim/").next().unwrap_or_default().to_string());
            }
        }
    });
    let sim = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .expect("a sandbox simulator line in the start-up block")
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    let http = reqwest::Client::new();

    let chats = |http: reqwest::Client, sim: String| async move {
        http.get(format!("{sim}/_sim/juzi/chats"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = chats(http.clone(), sim.clone()).await;
    assert_eq!(before["linked"], true, "{before}");
    assert_eq!(before["sidebar_url"], format!("{base}/sidebar/"));
    assert_eq!(before["gateway_origin"], base);
    assert_eq!(before["chats"], json!([]));

    let r = http
        .post(format!("{base}/v1/messages"))
        .bearer_auth(SECRET)
        .json(
            &json!({"content": "hello", "targets": [{"channel": "juzi", "chat_id": "wrSandbox"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let after = chats(http.clone(), sim.clone()).await;
    let listed = &after["chats"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{after}");
    assert_eq!(listed[0]["channel"], "juzi");
    assert_eq!(listed[0]["chat_key"], "chat:wrSandbox");
    assert_eq!(listed[0]["waiting"], 1);

    // The sidebar serves its bridge in the sandbox, for the simulator's origin.
    let bridge = http
        .get(format!("{base}/sidebar/sandbox-bridge.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bridge.status().as_u16(), 200);
    assert!(bridge.text().await.unwrap().contains("sandbox-parent"));
    drop(gw);
}
