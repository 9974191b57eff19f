//! The guarded fetcher for media uploads (WeCom image and file messages): the gateway
//! downloads a caller-given URL, so it must not become a way into the internal network.
//!
//! - https only, to global addresses only ([`is_global`]). The address checked is the address
//!   connected to: host names are resolved by the client's own resolver hook, which refuses the
//!   whole name when any address it resolves to is not global, so a name cannot answer a public
//!   address to a check and an internal one to the connection (DNS rebinding).
//! - The one exception is a list of exact socket addresses (the sandbox simulator's own
//!   address, a test's file server), reachable over plain http on that port only.
//! - No redirects, no proxy (a proxy would connect where the guard cannot see), a size cap and
//!   a time cap.
//! - Callers get one text for every refusal or failure ([`FetchFailed`]), so the gateway cannot
//!   be used to probe which internal names and ports exist; the reason is logged (without the
//!   URL's query, which may carry a signature).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use notify_channels::FetchedMedia;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use notify_upstream::http::{error_text, url_for_logs};

/// Fetcher settings.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Exact addresses (IP and port) that may be fetched over plain http although they are not
    /// global: the sandbox simulator's own address, a test's file server. Nothing else is
    /// exempt; in particular no other port of the same IP.
    pub exempt: Vec<SocketAddr>,
    /// Largest file (WeCom files: 20 MB).
    pub max_bytes: usize,
    /// Whole-download time cap.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            exempt: Vec::new(),
            max_bytes: 20 * 1024 * 1024,
            timeout: Duration::from_secs(20),
        }
    }
}

/// The one text a caller sees for any media URL that was refused or could not be fetched.
pub const FETCH_FAILED: &str = "the media URL could not be fetched: it must be an https URL of a \
     public host that answers 200 itself (no redirect), within the size and time limits";

/// A refused or failed fetch. Its text is [`FETCH_FAILED`] whatever the reason, which is
/// logged instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{FETCH_FAILED}")]
pub struct FetchFailed;

/// Downloads media under a [`FetchPolicy`].
#[derive(Debug, Clone)]
pub struct GuardedFetcher {
    /// https to global addresses.
    public: reqwest::Client,
    /// Per exempt port: http to the exempt IPs of that port only.
    exempt: BTreeMap<u16, (reqwest::Client, Vec<IpAddr>)>,
    policy: FetchPolicy,
}

impl GuardedFetcher {
    /// A fetcher that never follows redirects and never uses a proxy.
    pub fn new(policy: FetchPolicy) -> Result<Self, reqwest::Error> {
        let public = client(&policy, GuardedResolver::global())?;
        let mut by_port: BTreeMap<u16, Vec<IpAddr>> = BTreeMap::new();
        for a in &policy.exempt {
            by_port.entry(a.port()).or_default().push(a.ip());
        }
        let mut exempt = BTreeMap::new();
        for (port, ips) in by_port {
            let c = client(&policy, GuardedResolver::only(ips.clone()))?;
            exempt.insert(port, (c, ips));
        }
        Ok(Self {
            public,
            exempt,
            policy,
        })
    }

    /// Fetches `url`, or fails with the one text callers see; the reason is logged.
    pub async fn fetch(&self, url: &str) -> Result<FetchedMedia, FetchFailed> {
        self.try_fetch(url).await.map_err(|reason| {
            tracing::warn!(url = %url_for_logs(url), %reason, "media fetch refused or failed");
            FetchFailed
        })
    }

    async fn try_fetch(&self, url: &str) -> Result<FetchedMedia, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
        let port = parsed
            .port_or_known_default()
            .ok_or("no port for the scheme")?;
        let client = match parsed.scheme() {
            "https" => {
                // IP literals are connected to without the resolver: checked here.
                if let Some(ip) = literal_ip(&parsed) {
                    if !is_global(ip) {
                        return Err(format!("{ip} is not a global address"));
                    }
                }
                &self.public
            }
            "http" => {
                let Some((client, ips)) = self.exempt.get(&port) else {
                    return Err("plain http to an address that is not exempt".into());
                };
                if let Some(ip) = literal_ip(&parsed) {
                    if !ips.contains(&ip) {
                        return Err("plain http to an address that is not exempt".into());
                    }
                }
                client
            }
            other => return Err(format!("scheme {other}")),
        };
        let resp = client.get(parsed).send().await.map_err(error_text)?;
        if !resp.status().is_success() {
            // Redirects included: they are not followed, since their target was not checked.
            return Err(format!("answered {}", resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|l| l as usize > self.policy.max_bytes)
        {
            return Err(format!("larger than {} bytes", self.policy.max_bytes));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let mut bytes = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(error_text)? {
            if bytes.len() + chunk.len() > self.policy.max_bytes {
                return Err(format!("larger than {} bytes", self.policy.max_bytes));
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

fn client(
    policy: &FetchPolicy,
    resolver: GuardedResolver,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .timeout(policy.timeout)
        .connect_timeout(Duration::from_secs(5))
        .build()
}

fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// The fetcher's resolver: a name resolves only when every address it has is permitted, and
/// the addresses it returns are the ones connected to.
#[derive(Debug, Clone)]
struct GuardedResolver {
    /// `None`: global addresses; `Some(ips)`: exactly these.
    only: Option<Arc<[IpAddr]>>,
}

impl GuardedResolver {
    fn global() -> Self {
        Self { only: None }
    }

    fn only(ips: Vec<IpAddr>) -> Self {
        Self {
            only: Some(ips.into()),
        }
    }

    fn permits(&self, ip: IpAddr) -> bool {
        match &self.only {
            None => is_global(ip),
            Some(ips) => ips.contains(&ip),
        }
    }
}

/// A name refused by the resolver (logged as the fetch's reason, never shown to callers).
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {addr}, which may not be fetched from")]
struct AddressRefused {
    host: String,
    addr: IpAddr,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !this.permits(a.ip())) {
                return Err(Box::new(AddressRefused {
                    host,
                    addr: bad.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a globally reachable unicast address: the only kind of address the media
/// fetcher connects to. Everything special-purpose is refused (the IANA IPv4 and IPv6
/// special-purpose registries): this-network, private, shared (CGNAT), loopback, link-local,
/// protocol assignments, documentation, benchmarking, multicast, reserved and broadcast; in
/// IPv6 everything outside global unicast `2000::/3`, and within it the protocol assignments
/// (`2001::/23`, Teredo included), documentation (`2001:db8::/32`, `3fff::/20`). IPv6 forms
/// that embed an IPv4 address — mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002:AABB:CCDD::/48` — are judged by that IPv4 address; the deprecated compatible form
/// `::a.b.c.d`, SIIT `::ffff:0:a.b.c.d` and local-use NAT64 `64:ff9b:1::/48` are refused.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // 0.0.0.0/8 this network
        || a == 10 // 10/8 private
        || (a == 100 && (64..128).contains(&b)) // 100.64/10 shared (CGNAT)
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // 172.16/12 private
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // 198.18/15 benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // 224/4 multicast, 240/4 reserved, broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // IPv4-mapped ::ffff:a.b.c.d.
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return is_global_v4(embedded(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_global_v4(embedded(s[6], s[7]));
    }
    // 6to4 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        return is_global_v4(embedded(s[1], s[2]));
    }
    // Only global unicast 2000::/3 is global; ::, ::1, ::/96 compatible, ::ffff:0:0/96 SIIT,
    // 64:ff9b:1::/48, 100::/64 discard, fc00::/7, fe80::/10, fec0::/10, ff00::/8 lie outside.
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    // 2001::/23, Teredo (2001::/32) included.
    let protocol_assignments = s[0] == 0x2001 && s[1] < 0x0200;
    // 2001:db8::/32, and 3fff::/20 with the unassigned rest of 3ff0::/12 around it.
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xfff0) == 0x3ff0;
    global_unicast && !protocol_assignments && !documentation
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback server answering every request with `head` and a 4-byte body; counts the
    /// connections it accepted, so a test can tell "refused before connecting" apart.
    async fn server(head: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let answer =
                        format!("{head}\r\ncontent-length: 4\r\nconnection: close\r\n\r\nPNG!");
                    let _ = sock.write_all(answer.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (addr, accepted)
    }

    fn fetcher(exempt: Vec<SocketAddr>) -> GuardedFetcher {
        GuardedFetcher::new(FetchPolicy {
            exempt,
            ..FetchPolicy::default()
        })
        .unwrap()
    }

    /// The sandbox's case: its simulator's address is exempt, no other port of loopback is.
    #[tokio::test]
    async fn only_the_exempt_address_is_fetched_over_http() {
        let (sim, _) = server("HTTP/1.1 200 OK\r\ncontent-type: image/png").await;
        let (other, other_hits) = server("HTTP/1.1 200 OK").await;
        let f = fetcher(vec![sim]);
        let got = f.fetch(&format!("http://{sim}/a.png?sig=1")).await.unwrap();
        assert_eq!(got.bytes, b"PNG!");
        assert_eq!(got.filename, "a.png");
        assert_eq!(got.content_type, "image/png");
        for url in [
            format!("http://{other}/metrics"),
            format!("https://{other}/metrics"),
            format!("http://localhost:{}/metrics", other.port()),
            format!("https://localhost:{}/metrics", other.port()),
            format!("https://[::ffff:127.0.0.1]:{}/metrics", other.port()),
            format!("http://0x7f.1:{}/metrics", other.port()),
        ] {
            assert_eq!(f.fetch(&url).await, Err(FetchFailed), "{url}");
        }
        assert_eq!(
            other_hits.load(Ordering::SeqCst),
            0,
            "a refused address was connected to"
        );
        // Without the exemption the sandbox's own address is refused too.
        assert_eq!(
            fetcher(vec![]).fetch(&format!("http://{sim}/a.png")).await,
            Err(FetchFailed)
        );
    }

    /// A name resolving to an internal address is refused by the resolver the connection uses
    /// (no second resolution that could answer differently), before any connection.
    #[tokio::test]
    async fn names_resolving_inside_are_refused_before_connecting() {
        let (addr, hits) = server("HTTP/1.1 200 OK").await;
        let f = fetcher(vec![]);
        let url = format!("https://localhost:{}/a.png", addr.port());
        assert_eq!(f.fetch(&url).await, Err(FetchFailed));
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        // The resolver itself, as reqwest calls it.
        let r = GuardedResolver::global();
        let e = r.resolve("localhost".parse().unwrap()).await.err().unwrap();
        assert!(e.to_string().contains("may not be fetched from"), "{e}");
    }

    /// Redirects, error statuses, oversize bodies, bad URLs and refusals: callers read one
    /// text, which names no host, port or cause.
    #[tokio::test]
    async fn every_failure_reads_the_same() {
        let (redirect, _) = server("HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/").await;
        let (missing, _) = server("HTTP/1.1 404 Not Found").await;
        let (big, _) = server("HTTP/1.1 200 OK").await;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let f = GuardedFetcher::new(FetchPolicy {
            exempt: vec![redirect, missing, big, closed],
            max_bytes: 3,
            ..FetchPolicy::default()
        })
        .unwrap();
        for url in [
            format!("http://{redirect}/a.png"),
            format!("http://{missing}/a.png"),
            format!("http://{big}/a.png"),
            format!("http://{closed}/a.png"),
            "ftp://example.com/a.png".into(),
            "not a url".into(),
            "https://10.0.0.1/a.png".into(),
        ] {
            let e = f.fetch(&url).await.unwrap_err();
            assert_eq!(e.to_string(), FETCH_FAILED, "{url}");
        }
    }

    /// Every special-purpose range, at its edges where an off-by-one would show, and the
    /// global addresses next to them.
    #[test]
    fn only_global_addresses_are_global() {
        let table: &[(&str, bool)] = &[
            // IPv4
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("0.255.255.255", false),
            ("1.0.0.1", true),
            ("9.255.255.255", true),
            ("10.0.0.0", false),
            ("10.255.255.255", false),
            ("11.0.0.0", true),
            ("100.63.255.255", true),
            ("100.64.0.0", false),
            ("100.127.255.255", false),
            ("100.128.0.0", true),
            ("126.255.255.255", true),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("169.253.255.255", true),
            ("169.254.169.254", false),
            ("169.255.0.0", true),
            ("172.15.255.255", true),
            ("172.16.0.0", false),
            ("172.31.255.255", false),
            ("172.32.0.0", true),
            ("192.0.0.0", false),
            ("192.0.0.9", false),
            ("192.0.0.255", false),
            ("192.0.1.0", true),
            ("192.0.2.1", false),
            ("192.0.3.0", true),
            ("192.88.99.1", false),
            ("192.88.100.0", true),
            ("192.167.255.255", true),
            ("192.168.0.1", false),
            ("192.169.0.0", true),
            ("198.17.255.255", true),
            ("198.18.0.0", false),
            ("198.19.255.255", false),
            ("198.20.0.0", true),
            ("198.51.100.7", false),
            ("203.0.113.7", false),
            ("203.0.114.0", true),
            ("93.184.216.34", true),
            ("223.255.255.255", true),
            ("224.0.0.1", false),
            ("239.255.255.255", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            // IPv6
            ("::", false),
            ("::1", false),
            ("::8.8.8.8", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:0.0.0.0", false),
            ("::ffff:8.8.8.8", true),
            ("::ffff:0:8.8.8.8", false),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::808:808", true),
            ("64:ff9b:1::808:808", false),
            ("100::1", false),
            ("1fff:ffff::1", false),
            ("2000::1", true),
            ("2001::1", false),
            ("2001:1ff:ffff::1", false),
            ("2001:200::1", true),
            ("2001:db8::1", false),
            ("2001:db9::1", true),
            ("2002:7f00:1::1", false),
            ("2002:c0a8:101::1", false),
            ("2002:808:808::1", true),
            ("2606:4700::1111", true),
            ("3fef:ffff::1", true),
            ("3ffe::1", false),
            ("3fff::1", false),
            ("3fff:fff::1", false),
            ("4000::1", false),
            ("5f00::1", false),
            ("fc00::1", false),
            ("fdff:ffff::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("feff::1", false),
            ("ff02::1", false),
        ];
        for (ip, global) in table {
            assert_eq!(is_global(ip.parse().unwrap()), *global, "{ip}");
        }
    }
}
