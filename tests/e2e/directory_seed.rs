//! The config file's `[people.ID]` and `[groups]` are in the directory of the callers' tenant
//! once the gateway serves, a message may name them, and the serving gateway's fallback loop
//! adds the fallback of a delivery that expired (contract §7).

use notify_core::clock::ms_to_rfc3339;
use notify_core::{Clock, SystemClock};
use notify_e2e::{await_some, get_message, serve, wait_ready, Caller, Sink};
use notify_testkit::{free_port, scratch_dir};
use serde_json::{json, Value};

const SECRET: &str = "directory-seed-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_directory_is_served_and_an_expired_delivery_falls_back() {
    let dir = scratch_dir("directory-seed");
    let port = free_port();
    let caller = Caller {
        name: "ops",
        access_key: "AK-DIR",
        secret: SECRET,
        scopes: &["send", "read", "admin"],
    };
    // A WeLink channel nobody answers (port 9): its message waits until its deadline and
    // expires; the log channel is the fallback.
    let extra = "[people.zhangsan]\nname = \"张三\"\nwelink = \"zhangsan@welink\"\n\
        [groups]\noncall = [\"zhangsan\"]\n\
        [channels.welink]\nkind = \"welink\"\nbase_url = \"http://127.0.0.1:9/api\"\n\
        client_id = \"c\"\nclient_secret = \"s\"\nowner = \"Monitoring\"\n\
        [channels.log]\nkind = \"log\"\n";
    let config = notify_e2e::write_config(&dir, port, &caller, "shutdown_grace = \"2s\"", extra);
    let _gw = serve(&config, port, "warn", Sink::Null).owning(dir);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    let client = reqwest::Client::new();

    let people: Value = client
        .get(format!("{base}/v1/people"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        people,
        json!({"people": [{"id": "zhangsan", "name": "张三", "welink": "zhangsan@welink"}]})
    );

    let r = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth(SECRET)
        .json(&json!({"title": "disk", "content": "db-3 /var at 95%",
            "expires_at": ms_to_rfc3339(SystemClock.now_ms() + 3_000),
            "targets": [{"channel": "welink", "groups": ["oncall"],
                         "fallback": {"channel": "log", "users": ["duty"]}}]}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    let m = await_some(60, "the fallback to be sent", || async {
        let m = get_message(&client, &base, SECRET, &id).await;
        let ds = m["deliveries"].as_array().cloned().unwrap_or_default();
        (ds.len() == 2 && ds[1]["status"] == "sent").then_some(m)
    })
    .await;
    let ds = m["deliveries"].as_array().cloned().unwrap_or_default();
    assert_eq!(ds[0]["status"], "expired", "{m}");
    assert_eq!(ds[1]["channel"], "log");
    assert_eq!(ds[1]["fallback_of"], ds[0]["id"]);
    assert_eq!(m["status"], "sent", "{m}");
}
