//! The HTTP edge over real TCP (issue 13, items 2, 3 and 7): no body is read before its caller
//! is known, bodies in flight share one bound, slow or silent connections are closed, requests
//! have a deadline, connections have a cap, and a refused body's client reads the refusal.
//!
//! Every wait on the server is an awaited socket event under an outer timeout that only turns
//! a hang into a failure.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use common::{with_app_config, Backend, TestApp, SENDER};
use notify_api::{ApiConfig, ServerLimits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any awaited event may take before the test fails.
const GUARD: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Serves the test router on a loopback port with `limits`, then runs `body`.
async fn served<F, Fut>(config: ApiConfig, limits: ServerLimits, body: F)
where
    F: FnOnce(SocketAddr, TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_app_config(Backend::Sqlite, config, move |app| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(notify_api::serve(
            listener,
            app.router.clone(),
            limits,
            std::future::pending(),
        ));
        body(addr, app).await;
        server.abort();
    })
    .await
}

/// An answer read off the socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Reads one response head (up to the blank line).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("read the answer");
        assert!(
            n == 1,
            "connection closed in the middle of a head: {head:?}"
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads one whole response (a `Content-Length` body).
async fn read_answer(stream: &mut TcpStream) -> Raw {
    let head = read_head(stream).await;
    let status = head[9..12].parse().expect("a status code");
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.expect("read the body");
    Raw {
        status,
        head,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// The head of a `POST` with `headers` and a declared length.
fn post_head(path: &str, headers: &[(&str, &str)], len: usize) -> String {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// A valid message padded with spaces to exactly `len` bytes.
fn message_of(len: usize) -> Vec<u8> {
    let mut body = common::message("sized").to_string().into_bytes();
    assert!(body.len() <= len);
    body.resize(len, b' ');
    body
}

/// A connection whose writes cannot all sit in the kernel's buffers: a body the server stops
/// reading makes the writer fail instead of passing unnoticed.
async fn small_send_buffer(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    socket.connect(addr).await.unwrap()
}

fn bearer() -> String {
    format!("Bearer {}", SENDER.1)
}

fn config() -> ApiConfig {
    common::config()
}

#[tokio::test]
async fn a_caller_without_a_known_credential_is_refused_before_its_body_is_sent() {
    served(config(), ServerLimits::default(), |addr, app| async move {
        // Within the batch limit (16 KiB x 1000): only the missing credential is wrong.
        let declared = 16_000_000;
        let ts = app.clock_now().to_string();
        let cases: [(&str, Vec<(&str, &str)>); 4] = [
            ("no credentials", vec![]),
            (
                "an unknown bearer",
                vec![("authorization", "Bearer nobody")],
            ),
            (
                "an unknown access key",
                vec![
                    ("x-access-key", "AK-NOBODY"),
                    ("x-timestamp", &ts),
                    ("x-signature", "AAAA"),
                ],
            ),
            (
                "a stale timestamp",
                vec![
                    ("x-access-key", SENDER.0),
                    ("x-timestamp", "1"),
                    ("x-signature", "AAAA"),
                ],
            ),
        ];
        for (what, headers) in cases {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(post_head("/v1/messages/batch", &headers, declared).as_bytes())
                .await
                .unwrap();
            // 64 KiB of the 16 MB: the answer must not wait for the rest.
            stream.write_all(&vec![b' '; 64 * 1024]).await.unwrap();
            let answer = within(what, read_answer(&mut stream)).await;
            assert_eq!(answer.status, 401, "{what}: {answer:?}");
            assert_eq!(answer.code(), "unauthenticated", "{what}");
        }

        // A known key's signed body is read and checked.
        let body = message_of(600);
        let sig = notify_api::auth::signature::sign(
            SENDER.1,
            SENDER.0,
            &ts,
            "POST",
            "/v1/messages",
            &body,
        );
        let headers = [
            ("x-access-key", SENDER.0),
            ("x-timestamp", ts.as_str()),
            ("x-signature", sig.as_str()),
        ];
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(post_head("/v1/messages", &headers, body.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&body).await.unwrap();
        let answer = within("a signed message", read_answer(&mut stream)).await;
        assert_eq!(answer.status, 202, "{answer:?}");
    })
    .await;
}

#[tokio::test]
async fn bodies_in_flight_share_one_bound() {
    let config = ApiConfig {
        max_inflight_body_bytes: 10_000,
        ..config()
    };
    served(config, ServerLimits::default(), |addr, _app| async move {
        let auth = bearer();
        let expect = [("authorization", auth.as_str()), ("expect", "100-continue")];
        // A reserves 8000 bytes: the server asks for its body once they are reserved.
        let mut a = TcpStream::connect(addr).await.unwrap();
        a.write_all(post_head("/v1/messages", &expect, 8000).as_bytes())
            .await
            .unwrap();
        let go = within("100 Continue", read_head(&mut a)).await;
        assert!(go.starts_with("HTTP/1.1 100"), "{go}");

        // B does not fit beside A: 503 at once, with Retry-After.
        let mut b = TcpStream::connect(addr).await.unwrap();
        b.write_all(post_head("/v1/messages", &expect, 8000).as_bytes())
            .await
            .unwrap();
        let busy = within("the 503", read_answer(&mut b)).await;
        assert_eq!(busy.status, 503, "{busy:?}");
        assert_eq!(busy.code(), "busy");
        assert!(
            busy.head.to_ascii_lowercase().contains("retry-after: 1"),
            "{}",
            busy.head
        );

        // A body larger than the whole bound can never fit: 413, not 503.
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(post_head("/v1/messages", &expect, 12_000).as_bytes())
            .await
            .unwrap();
        let too_big = within("the 413", read_answer(&mut c)).await;
        assert_eq!(too_big.status, 413, "{too_big:?}");

        // A finishes; its bytes are given back with its answer, and the next body fits.
        a.write_all(&message_of(8000)).await.unwrap();
        let accepted = within("A's answer", read_answer(&mut a)).await;
        assert_eq!(accepted.status, 202, "{accepted:?}");
        let mut d = TcpStream::connect(addr).await.unwrap();
        d.write_all(post_head("/v1/messages", &[("authorization", &auth)], 8000).as_bytes())
            .await
            .unwrap();
        d.write_all(&message_of(8000)).await.unwrap();
        let accepted = within("D's answer", read_answer(&mut d)).await;
        assert_eq!(accepted.status, 202, "{accepted:?}");
    })
    .await;
}

#[tokio::test]
async fn a_client_that_writes_a_whole_oversized_body_first_reads_the_413() {
    served(config(), ServerLimits::default(), |addr, _app| async move {
        let auth = bearer();
        let body = vec![b' '; 2 * 1024 * 1024];
        for round in 0..3 {
            let mut stream = small_send_buffer(addr).await;
            let mut request =
                post_head("/v1/messages", &[("authorization", &auth)], body.len()).into_bytes();
            request.extend_from_slice(&body);
            within("writing the whole body", stream.write_all(&request))
                .await
                .unwrap_or_else(|e| panic!("round {round}: the server cut the body off: {e}"));
            let answer = within("the 413", read_answer(&mut stream)).await;
            assert_eq!(answer.status, 413, "round {round}: {answer:?}");
            assert_eq!(answer.code(), "payload_too_large");
        }
        // Streamed without a length: refused when the limit is passed, read to the end all the same.
        let mut stream = small_send_buffer(addr).await;
        let mut request = format!(
            "POST /v1/messages HTTP/1.1\r\nhost: test\r\nauthorization: {auth}\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        for _ in 0..32 {
            request.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
            request.extend_from_slice(&[b' '; 64 * 1024]);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        within("writing the whole chunked body", stream.write_all(&request))
            .await
            .expect("the server cut the chunked body off");
        let answer = within("the chunked 413", read_answer(&mut stream)).await;
        assert_eq!(answer.status, 413, "{answer:?}");
    })
    .await;
}

#[tokio::test]
async fn silent_and_slow_connections_are_closed_after_the_header_read_timeout() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    served(config(), limits, |addr, _app| async move {
        for (what, sent) in [
            ("a silent connection", &b""[..]),
            ("half a request line", b"POST /v1/mess"),
            (
                "a head that never ends",
                b"GET /healthz HTTP/1.1\r\nhost: x\r\n",
            ),
        ] {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(sent).await.unwrap();
            let mut rest = Vec::new();
            // The server closing the connection is the event awaited (EOF or a reset).
            let _ = within(what, stream.read_to_end(&mut rest)).await;
            let text = String::from_utf8_lossy(&rest);
            assert!(!text.contains(" 200 "), "{what}: {text}");
        }
        // An idle keep-alive connection owes its next head within the same time.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(
            within("an answer", read_answer(&mut stream)).await.status,
            200
        );
        let mut rest = Vec::new();
        let _ = within(
            "the idle connection to close",
            stream.read_to_end(&mut rest),
        )
        .await;
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    })
    .await;
}

#[tokio::test]
async fn a_request_that_outlasts_the_request_timeout_gets_a_408() {
    let limits = ServerLimits {
        request_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    served(config(), limits, |addr, _app| async move {
        let auth = bearer();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(post_head("/v1/messages", &[("authorization", &auth)], 1000).as_bytes())
            .await
            .unwrap();
        stream.write_all(b"{\"title\":").await.unwrap();
        let answer = within("the 408", read_answer(&mut stream)).await;
        assert_eq!(answer.status, 408, "{answer:?}");
        assert_eq!(answer.code(), "request_timeout");
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("connection: close"),
            "{}",
            answer.head
        );
    })
    .await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let limits = ServerLimits {
        max_connections: 2,
        ..ServerLimits::default()
    };
    served(config(), limits, |addr, _app| async move {
        let get = b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n";
        let mut open = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(get).await.unwrap();
            let answer = within("a served connection", read_answer(&mut stream)).await;
            assert_eq!(answer.status, 200);
            open.push(stream);
        }
        // The third is accepted by the kernel but not served while both stay open.
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(get).await.unwrap();
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
        assert!(early.is_err(), "a third connection was served: {early:?}");
        // One closes: the third is served.
        drop(open.pop());
        let answer = within("the third connection's answer", async {
            let mut status = [0u8; 12];
            third.read_exact(&mut status).await.unwrap();
            status
        })
        .await;
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_ends_the_server() {
    with_app_config(Backend::Sqlite, config(), |app| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(notify_api::serve(
            listener,
            app.router.clone(),
            ServerLimits::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(
            within("an answer", read_answer(&mut stream)).await.status,
            200
        );
        stop.send(()).unwrap();
        within("the server to end", server).await.unwrap();
        let mut rest = Vec::new();
        let _ = within(
            "the idle connection to close",
            stream.read_to_end(&mut rest),
        )
        .await;
    })
    .await;
}
