//! Random bytes and random JSON thrown at POST /v1/messages and POST /v1/messages/batch: the
//! answer is never a 500, and no message of a batch ends in `error`.

mod common;

use axum::http::StatusCode;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

fn random_string(rng: &mut StdRng) -> String {
    let pool = [
        "",
        "a",
        "logch",
        "https://x.example/a",
        "ftp://x",
        "\u{0}",
        "磁盘",
        "h5://app",
        "\u{202e}",
        "2026-11-23T10:00:00Z",
        "x",
    ];
    if rng.gen_bool(0.7) {
        pool[rng.gen_range(0..pool.len())].to_string()
    } else {
        (0..rng.gen_range(0..40))
            .map(|_| char::from_u32(rng.gen_range(0..0x3000)).unwrap_or('?'))
            .collect()
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen::<f64>()),
        4 => json!(random_string(rng)),
        5 => Value::Array(
            (0..rng.gen_range(0..6))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "title",
                "content",
                "targets",
                "channel",
                "users",
                "url",
                "buttons",
                "articles",
                "state",
                "zh",
                "en",
                "raw",
                "type",
                "metadata",
                "expires_at",
                "not_before",
                "idempotency_key",
                "priority",
                "fields",
                "key",
                "value",
            ];
            let mut m = Map::new();
            for _ in 0..rng.gen_range(0..6) {
                m.insert(
                    keys[rng.gen_range(0..keys.len())].to_string(),
                    random_value(rng, depth + 1),
                );
            }
            Value::Object(m)
        }
    }
}

/// A valid message with one part replaced by something random.
fn mutated(rng: &mut StdRng) -> Value {
    let mut m = json!({
        "title": "t", "content": "c", "url": "https://x.example",
        "buttons": [{"title": "b", "url": "https://x.example"}],
        "state": {"zh": "待处理", "en": "pending"},
        "targets": [{"channel": "logch", "users": ["u"]}],
        "metadata": {"a": 1}
    });
    let keys = [
        "title",
        "content",
        "url",
        "buttons",
        "state",
        "targets",
        "metadata",
        "expires_at",
        "articles",
        "priority",
        "idempotency_key",
        "state_color",
        "format",
        "owner",
    ];
    for _ in 0..rng.gen_range(1..4) {
        let k = keys[rng.gen_range(0..keys.len())];
        m[k] = random_value(rng, 1);
    }
    if rng.gen_bool(0.3) {
        let raw = random_value(rng, 1);
        if let Some(t) = m["targets"].get_mut(0).and_then(Value::as_object_mut) {
            t.insert("raw".into(), raw);
        }
    }
    m
}

async fn random_input_never_answers_500(app: TestApp) {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for i in 0..400 {
        let body: Vec<u8> = match i % 4 {
            0 => (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect(),
            1 => random_value(&mut rng, 0).to_string().into_bytes(),
            _ => {
                let mut b = mutated(&mut rng).to_string().into_bytes();
                if rng.gen_bool(0.1) && !b.is_empty() {
                    let at = rng.gen_range(0..b.len());
                    b[at] = rng.gen();
                }
                b
            }
        };
        let a = app.bearer(SENDER, "POST", "/v1/messages", &body).await;
        assert!(
            matches!(
                a.status,
                StatusCode::ACCEPTED
                    | StatusCode::OK
                    | StatusCode::BAD_REQUEST
                    | StatusCode::UNPROCESSABLE_ENTITY
                    | StatusCode::CONFLICT
                    | StatusCode::PAYLOAD_TOO_LARGE
            ),
            "case {i}: {} for {:?} → {}",
            a.status,
            String::from_utf8_lossy(&body),
            a.text
        );
        assert!(
            a.body["error"].is_object() || a.body["id"].is_string(),
            "case {i}: {}",
            a.text
        );
    }
}

async fn random_batches_never_answer_500(app: TestApp) {
    let mut rng = StdRng::seed_from_u64(0xba7c);
    for i in 0..60 {
        let messages: Vec<Value> = (0..rng.gen_range(1..40))
            .map(|_| {
                if rng.gen_bool(0.3) {
                    random_value(&mut rng, 0)
                } else {
                    mutated(&mut rng)
                }
            })
            .collect();
        let body = if i % 10 == 9 {
            random_value(&mut rng, 0).to_string()
        } else {
            json!({ "messages": messages }).to_string()
        };
        let a = app
            .bearer(SENDER, "POST", "/v1/messages/batch", body.as_bytes())
            .await;
        assert!(
            matches!(
                a.status,
                StatusCode::OK | StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "case {i}: {} → {}",
            a.status,
            a.text
        );
        if a.status == StatusCode::OK {
            assert_eq!(a.body["error"], 0, "case {i}: {}", a.text);
            let results = a.body["results"].as_array().unwrap();
            assert_eq!(results.len(), messages.len());
            for r in results {
                let ok = match r["status"].as_str().unwrap() {
                    "accepted" | "replayed" => r["id"].is_string() && r["message"].is_object(),
                    "invalid" | "conflict" => r["error"]["code"].is_string(),
                    _ => false,
                };
                assert!(ok, "case {i}: {r}");
            }
        }
    }
}

on_both_backends!(
    random_input_never_answers_500,
    random_batches_never_answer_500
);
