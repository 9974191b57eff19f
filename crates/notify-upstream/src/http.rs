//! The upstream HTTP client: one reqwest client (connection reuse, connect and total
//! timeouts) that performs an adapter's [`UpstreamRequest`] and tells "never left" from
//! "left, no answer".

use std::time::Duration;

use notify_channels::{Body, Method, UpstreamAnswer, UpstreamRequest};

/// Why a call got no answer.
///
/// Not merged with [`crate::tokens::TokenError`] into one crate error, and holding text rather
/// than the `reqwest::Error` as a source, on purpose: this is the outcome of one upstream call
/// that the dispatcher sorts by retry safety (sent or not) and stores as the attempt's error,
/// while a token error is the decision of the token manager (rejected, later, rate-limited).
/// No caller can meet both at once, so one enum would make each match arms that cannot
/// happen. The text is [`error_text`]'s, because reqwest's own error names the full URL, query
/// secrets included, and anything kept as a source would reach logs with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The request never reached upstream (connect refused, DNS): safe to retry.
    NotSent(String),
    /// The request may have reached upstream (timeout or reset after writing): retrying may
    /// duplicate it.
    Unknown(String),
}

/// Performs upstream calls.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    client: reqwest::Client,
}

impl UpstreamClient {
    /// A client with the given timeouts. Redirects are not followed: an upstream API that
    /// redirects is misconfigured, and following blindly could leak tokens.
    pub fn new(connect_timeout: Duration, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client })
    }

    /// Makes the call.
    pub async fn call(&self, req: &UpstreamRequest) -> Result<UpstreamAnswer, TransportError> {
        self.call_within(req, None).await
    }

    /// Makes the call, giving up after `timeout` when it is shorter than the client's own.
    pub async fn call_within(
        &self,
        req: &UpstreamRequest,
        timeout: Option<std::time::Duration>,
    ) -> Result<UpstreamAnswer, TransportError> {
        let mut b = match req.method {
            Method::Get => self.client.get(&req.url),
            Method::Post => self.client.post(&req.url),
        };
        if !req.query.is_empty() {
            b = b.query(&req.query);
        }
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        if let Some((u, p)) = &req.basic_auth {
            b = b.basic_auth(u, Some(p));
        }
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b = match &req.body {
            Body::Empty => b,
            Body::Json(v) => b.json(v),
            Body::Form(f) => b.form(f),
            Body::Multipart {
                field,
                filename,
                content_type,
                bytes,
            } => {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(filename.clone())
                    .mime_str(content_type)
                    .map_err(|e| {
                        TransportError::NotSent(format!("bad content type: {}", error_text(e)))
                    })?;
                b.multipart(reqwest::multipart::Form::new().part(field.clone(), part))
            }
        };
        tracing::debug!(url = %url_for_logs(&req.url), method = ?req.method, query = ?redact(&req.query, &req.secret_names), "upstream call");
        let resp = b.send().await.map_err(|e| {
            let e = classify(e);
            tracing::debug!(url = %url_for_logs(&req.url), error = ?e, "upstream call got no answer");
            e
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| TransportError::Unknown(error_text(e)))?;
        tracing::debug!(url = %url_for_logs(&req.url), status, body = %redact_body(&body), "upstream answer");
        Ok(UpstreamAnswer {
            http_status: status,
            body: body.to_vec(),
        })
    }
}

fn classify(e: reqwest::Error) -> TransportError {
    if e.is_connect() || e.is_builder() {
        TransportError::NotSent(error_text(e))
    } else {
        TransportError::Unknown(error_text(e))
    }
}

/// A reqwest error as it may be stored, logged or answered: reqwest's own text names the full
/// URL, query included (WeCom's `corpsecret=` and `access_token=`), so the URL is replaced by
/// [`url_for_logs`]'s form of it; the causes (connection reset, refused, timed out) follow.
pub fn error_text(e: reqwest::Error) -> String {
    let url = e.url().map(|u| url_for_logs(u.as_str()));
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if let Some(url) = url {
        text.push_str(&format!(" ({url})"));
    }
    text
}

/// A URL as it may be stored or logged: scheme, host, port and path; no query, fragment or
/// user info, which is where tokens, secrets and signatures travel.
pub fn url_for_logs(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// Query pairs with secret values replaced, for logs.
pub fn redact(pairs: &[(String, String)], secret_names: &[String]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            if secret_names.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                (k.clone(), "***".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// An answer body as it may be logged: JSON with the values of secret-looking keys (tokens,
/// tickets, secrets, passwords) replaced by `***` at any depth, cut to 2 KiB; anything else as
/// its length only, since it cannot be searched for secrets.
pub fn redact_body(body: &[u8]) -> String {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let k = k.to_ascii_lowercase();
                    if ["token", "ticket", "secret", "password"]
                        .iter()
                        .any(|s| k.contains(s))
                    {
                        *v = serde_json::Value::String("***".into());
                    } else {
                        scrub(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            scrub(&mut v);
            let mut text = v.to_string();
            if text.len() > 2048 {
                let mut end = 2048;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            text
        }
        Err(_) => format!("({} bytes, not JSON)", body.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_bodies_are_logged_without_secrets() {
        let token = br#"{"access_token":"57ab","code":"0","data":{"jsapi_ticket":"t","n":[{"client_secret":"s"}]}}"#;
        let logged = redact_body(token);
        assert!(!logged.contains("57ab") && !logged.contains("\"t\"") && !logged.contains("\"s\""));
        assert!(logged.contains(r#""code":"0""#), "{logged}");
        assert_eq!(redact_body(b"<html>"), "(6 bytes, not JSON)");
    }

    #[test]
    fn urls_are_logged_without_query_or_user_info() {
        assert_eq!(
            url_for_logs("http://u:pw@127.0.0.1:9/cgi-bin/gettoken?corpid=c&corpsecret=s#f"),
            "http://127.0.0.1:9/cgi-bin/gettoken"
        );
        assert_eq!(url_for_logs("not a url?secret=1"), "(not a URL)");
    }

    /// reqwest names the URL with its query in its errors; the text kept names it without.
    #[tokio::test]
    async fn transport_errors_carry_no_query() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and drops every connection: the request gets no answer.
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                drop(sock);
            }
        });
        let client = UpstreamClient::new(Duration::from_secs(1), Duration::from_secs(5)).unwrap();
        let mut req = UpstreamRequest::get(format!("http://{addr}/cgi-bin/gettoken"));
        req.query = vec![
            ("corpid".into(), "corp-id-1".into()),
            ("corpsecret".into(), "very-secret-value".into()),
        ];
        let text = match client.call(&req).await.unwrap_err() {
            TransportError::NotSent(t) | TransportError::Unknown(t) => t,
        };
        assert!(
            !text.contains("very-secret-value") && !text.contains("corpsecret"),
            "{text}"
        );
        assert!(
            text.contains(&format!("http://{addr}/cgi-bin/gettoken")),
            "{text}"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let q = vec![
            ("access_token".to_string(), "abc".to_string()),
            ("type".into(), "image".into()),
        ];
        let r = redact(&q, &["access_token".into()]);
        assert_eq!(r[0].1, "***");
        assert_eq!(r[1].1, "image");
    }
}
