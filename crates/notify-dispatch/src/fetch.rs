//! The guarded fetcher for media uploads (WeCom image and file messages): the gateway
//! downloads a caller-given URL, so it must not become a way into the internal network.
//! https only, no private, loopback or link-local address unless the host is allowed, a size
//! cap, a time cap and no redirects.

use std::net::IpAddr;
use std::time::Duration;

use notify_channels::FetchedMedia;

/// Fetcher settings.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Hosts allowed even on private addresses or over http (e.g. an internal file server, or
    /// the simulator in tests).
    pub allowed_hosts: Vec<String>,
    /// Largest file (WeCom files: 20 MB).
    pub max_bytes: usize,
    /// Whole-download time cap.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            max_bytes: 20 * 1024 * 1024,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Downloads media under a [`FetchPolicy`].
#[derive(Debug, Clone)]
pub struct GuardedFetcher {
    client: reqwest::Client,
    policy: FetchPolicy,
}

impl GuardedFetcher {
    /// A fetcher that never follows redirects.
    pub fn new(policy: FetchPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { client, policy })
    }

    /// Fetches `url`, or says why not.
    pub async fn fetch(&self, url: &str) -> Result<FetchedMedia, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad media URL: {e}"))?;
        let host = parsed
            .host_str()
            .ok_or("media URL has no host")?
            .to_string();
        let allowed = self
            .policy
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host));
        if parsed.scheme() != "https" && !allowed {
            return Err("media URLs must be https".into());
        }
        if !allowed {
            let port = parsed.port_or_known_default().unwrap_or(443);
            let addrs = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?;
            for a in addrs {
                if is_internal(a.ip()) {
                    return Err(format!("{host} resolves to an internal address; allow the host in config to fetch from it"));
                }
            }
        }
        let resp = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_redirection() {
            return Err("media URL redirects; give the final URL".into());
        }
        if !resp.status().is_success() {
            return Err(format!("media URL answered {}", resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|l| l as usize > self.policy.max_bytes)
        {
            return Err(format!("media larger than {} bytes", self.policy.max_bytes));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let mut bytes = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if bytes.len() + chunk.len() > self.policy.max_bytes {
                return Err(format!("media larger than {} bytes", self.policy.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        let filename = url
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("media")
            .split('?')
            .next()
            .unwrap_or("media")
            .to_string();
        Ok(FetchedMedia {
            filename,
            content_type,
            bytes,
        })
    }
}

/// Loopback, private, link-local, unspecified, CGNAT and unique-local addresses.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        assert!(!is_internal("93.184.216.34".parse().unwrap()));
    }

    #[tokio::test]
    async fn plain_http_and_loopback_are_refused_unless_allowed() {
        let f = GuardedFetcher::new(FetchPolicy::default()).unwrap();
        assert!(f
            .fetch("http://example.invalid/a.png")
            .await
            .unwrap_err()
            .contains("https"));
        assert!(f
            .fetch("https://127.0.0.1/a.png")
            .await
            .unwrap_err()
            .contains("internal"));
    }
}
