//! Waiting for something another process does. There is no event to await across a process
//! boundary, so these poll, with a deadline that fails loudly.

use std::future::Future;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::Error;

/// How long a gateway may take to answer `/readyz`.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Polls `GET {base}/readyz` every `every` until it answers 2xx; an error when `exited` reports
/// the process gone, or after 30 s.
pub(crate) async fn poll_ready(
    http: &reqwest::Client,
    base: &str,
    every: Duration,
    mut exited: impl FnMut() -> Option<ExitStatus>,
) -> Result<(), Error> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(r) = http
            .get(format!("{base}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(status) = exited() {
            return Err(Error::ExitedAtStartUp(status));
        }
        if Instant::now() > deadline {
            return Err(Error::NotReady(base.to_string()));
        }
        tokio::time::sleep(every).await;
    }
}

/// Waits until the gateway at `base` is ready, as [`crate::Gateway::await_ready`] does for a
/// process the test holds; an error after 30 s.
pub async fn await_ready(http: &reqwest::Client, base: &str) -> Result<(), Error> {
    poll_ready(http, base, Duration::from_millis(50), || None).await
}

/// [`await_ready`] that fails the test.
pub async fn wait_ready(base: &str) {
    if let Err(e) = await_ready(&reqwest::Client::new(), base).await {
        panic!("{e}");
    }
}

/// Polls `check` every 100 ms until it gives `Some`; fails the test after `secs`, naming
/// `what`.
pub async fn await_some<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET {base}/v1/messages/{id}` as the caller with bearer `secret`, as JSON; fails the test
/// when there is no JSON answer.
pub async fn get_message(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    id: &str,
) -> serde_json::Value {
    client
        .get(format!("{base}/v1/messages/{id}"))
        .bearer_auth(secret)
        .send()
        .await
        .expect("GET /v1/messages/{id}")
        .json()
        .await
        .expect("a message as JSON")
}
