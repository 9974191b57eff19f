//! `notify-gateway send`: an operator's signed curl.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config;
use crate::error::GatewayError;

/// Flags of `send`.
#[derive(clap::Args)]
pub struct SendArgs {
    /// Configuration file whose first caller key signs (or give --access-key/--secret-key).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Access key (default: the config's first caller).
    #[arg(long, env = "NOTIFY_ACCESS_KEY")]
    access_key: Option<String>,
    /// Secret key (default: the config's first caller).
    #[arg(long, env = "NOTIFY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Title.
    #[arg(long)]
    title: Option<String>,
    /// Content.
    #[arg(long)]
    content: Option<String>,
    /// A target as channel:recipient (repeatable), e.g. welink:zhangsan@welink.
    #[arg(long = "to", required = true)]
    to: Vec<String>,
    /// Idempotency key.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Poll until every delivery is final and print the outcome.
    #[arg(long)]
    wait: bool,
}

/// Signs and posts one message.
pub async fn send(args: SendArgs) -> Result<(), GatewayError> {
    let (ak, sk) = match (args.access_key.clone(), args.secret_key.clone()) {
        (Some(a), Some(s)) => (a, s),
        _ => {
            let (c, _) = config::load(args.config.as_deref())?;
            let client = c.auth.clients.first().ok_or_else(|| {
                GatewayError::Config(
                    "no caller key: give --access-key and --secret-key, or a config with \
                     [[auth.clients]]"
                        .into(),
                )
            })?;
            (
                client.access_key.clone(),
                client.secret_key.expose().to_string(),
            )
        }
    };
    let mut targets = Vec::new();
    for t in &args.to {
        let (channel, recipient) = t.split_once(':').ok_or_else(|| {
            GatewayError::Config(format!("--to {t:?}: expected channel:recipient"))
        })?;
        let field = if recipient.starts_with("wr") || channel.contains("juzi") {
            "chat_id"
        } else if channel.contains("workid") {
            "work_ids"
        } else {
            "users"
        };
        let value = if field == "chat_id" {
            serde_json::json!(recipient)
        } else {
            serde_json::json!([recipient])
        };
        targets.push(serde_json::json!({"channel": channel, field: value}));
    }
    let mut body =
        serde_json::json!({"title": args.title, "content": args.content, "targets": targets});
    if let Some(k) = &args.idempotency_key {
        body["idempotency_key"] = serde_json::json!(k);
    }
    let body = body.to_string().into_bytes();
    let client = reqwest::Client::new();
    let answer = signed(&client, &args.url, "POST", "/v1/messages", &ak, &sk, body).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    if args.wait {
        let id = answer["id"]
            .as_str()
            .ok_or_else(|| GatewayError::Remote(format!("the answer has no id: {answer}")))?
            .to_string();
        for _ in 0..120 {
            let m = signed(
                &client,
                &args.url,
                "GET",
                &format!("/v1/messages/{id}"),
                &ak,
                &sk,
                Vec::new(),
            )
            .await?;
            if m["status"].as_str() != Some("accepted") {
                println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        return Err(GatewayError::Remote(format!(
            "{id}: still not delivered after 60 s"
        )));
    }
    Ok(())
}

async fn signed(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    ak: &str,
    sk: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value, GatewayError> {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string();
    let sig = notify_api::auth::signature::sign(sk, ak, &ts, method, path, &body);
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    let req = if method == "POST" {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
    } else {
        client.get(url)
    };
    let resp = req
        .header("X-Access-Key", ak)
        .header("X-Timestamp", ts)
        .header("X-Signature", sig)
        .send()
        .await
        .map_err(|e| GatewayError::Remote(format!("gateway unreachable: {e}")))?;
    let status = resp.status();
    let v: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        Ok(v)
    } else {
        Err(GatewayError::Remote(format!("{status}: {v}")))
    }
}
