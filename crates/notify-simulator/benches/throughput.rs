//! Throughput of the simulator with the call log on: N concurrent keep-alive clients post a
//! fixed number of plain cards to `/api/messages/v2/card/common` (caps raised so that nothing
//! is refused), and the figure is calls per second.
//!
//! `cargo bench -p notify-simulator --bench throughput` (env: SIM_BENCH_CALLS, SIM_BENCH_CLIENTS).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use notify_simulator::Simulator;
use serde_json::{json, Value};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let calls = env_usize("SIM_BENCH_CALLS", 200_000);
    let clients = env_usize("SIM_BENCH_CLIENTS", 32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(calls, clients));
}

async fn run(calls: usize, clients: usize) {
    let sim = Simulator::new();
    let addr = sim
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let big = u64::MAX / 4;
    http.post(format!("{base}/_sim/caps"))
        .json(&json!({"per_second": big, "per_minute": big, "per_ip_20s": big}))
        .send()
        .await
        .expect("caps");
    let token: Value = http
        .post(format!("{base}/api/auth/v2/tickets"))
        .json(&json!({"client_id": "bench", "client_secret": "bench"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let body = serde_json::to_vec(&json!({
        "toUserList": ["john@welink", "zhangsan@welink"],
        "msgTitle": "{\"EN\": \"hello world\", \"CN\": \"你好\"}",
        "msgContent": "{\"CN\": \"欢迎使用\", \"EN\": \"Welcome\"}",
        "urlType": "html",
        "urlPath": "h5://demo.com",
        "msgOwner": "John"
    }))
    .expect("body");
    let url = format!("{base}/api/messages/v2/card/common");

    // Warm the connections.
    let warm = calls.min(2_000);
    drive(&http, &url, &token, &body, warm, clients).await;

    let started = Instant::now();
    let ok = drive(&http, &url, &token, &body, calls, clients).await;
    let secs = started.elapsed().as_secs_f64();
    let logged = sim.calls().len();
    println!(
        "notify-simulator throughput: {calls} calls, {clients} clients, {secs:.2} s, {:.0} calls/s ({ok} answered code 0; call log holds {logged})",
        calls as f64 / secs
    );
}

async fn drive(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &[u8],
    calls: usize,
    clients: usize,
) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, token, body) = (
            http.clone(),
            url.to_owned(),
            token.to_owned(),
            body.to_vec(),
        );
        let (next, ok) = (next.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                let r = http
                    .post(&url)
                    .header("x-wlk-Authorization", &token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if let Ok(r) = r {
                    if let Ok(bytes) = r.bytes().await {
                        if bytes.windows(10).any(|w| w == b"\"code\":\"0\"") {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    ok.load(Ordering::Relaxed)
}
