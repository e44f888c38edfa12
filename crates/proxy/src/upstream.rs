//! A route's upstreams: weighted round robin over the `to` URLs, skipping upstreams that
//! recently refused connections, each with the pooled client for its scheme.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::HeaderValue;
use http::uri::{Authority, Scheme};
use portcullis_config::{Route, Upstream};

use crate::ProxyError;

mod client;
mod connector;
mod counted;
pub(crate) mod tls;

pub(crate) use client::{SharedClients, UpstreamClient, https_for};

/// How long an upstream whose connect failed is passed over (unless all are).
const DOWN_FOR: Duration = Duration::from_secs(5);

/// The upstreams of one route.
#[derive(Debug)]
pub(crate) struct Upstreams {
    targets: Vec<UpstreamTarget>,
    /// Running sums of the weights: target `i` owns `[cumulative[i-1], cumulative[i])`.
    cumulative: Vec<u64>,
    next: AtomicU64,
}

/// One upstream URL.
#[derive(Debug)]
pub(crate) struct UpstreamTarget {
    /// The `to` URL, for logs.
    pub(crate) label: String,
    /// `http` or `https` (h2c upstreams are `http` spoken with HTTP/2 only).
    pub(crate) scheme: Scheme,
    /// `host:port` to connect to.
    pub(crate) authority: Authority,
    /// The URL's path without its trailing `/` (`""` for none): prepended to request paths.
    pub(crate) base_path: String,
    /// The default `Host` sent upstream: the URL's host (and port when not the default).
    pub(crate) host_header: HeaderValue,
    /// The pooled client for this scheme and the route's TLS settings.
    pub(crate) client: UpstreamClient,
    /// Milliseconds (process clock) until which the upstream is passed over.
    down_until: AtomicU64,
}

// === impl Upstreams ===

impl Upstreams {
    /// The upstreams of `route`, sharing `shared`'s plain and h2c pools; HTTPS upstreams get a
    /// client with the route's TLS settings.
    pub(crate) fn new(route: &Route, shared: &SharedClients) -> Result<Upstreams, ProxyError> {
        let mut https: Option<UpstreamClient> = None;
        let mut targets = Vec::with_capacity(route.to.len());
        let mut cumulative = Vec::with_capacity(route.to.len());
        let mut sum = 0u64;
        for upstream in &route.to {
            let client = match upstream.url.scheme() {
                "https" => match &https {
                    Some(c) => c.clone(),
                    None => {
                        let c = client::https(route).map_err(|reason| ProxyError::UpstreamTls {
                            route: route.id.clone(),
                            reason,
                        })?;
                        https = Some(c.clone());
                        c
                    }
                },
                "h2c" => shared.h2c.clone(),
                _ => shared.http.clone(),
            };
            targets.push(target(route, upstream, client)?);
            sum += u64::from(upstream.weight.max(1));
            cumulative.push(sum);
        }
        Ok(Upstreams {
            targets,
            cumulative,
            next: AtomicU64::new(0),
        })
    }

    /// Every upstream once, in the order to try them: the round-robin pick first, then the
    /// others; upstreams marked down go last.
    pub(crate) fn order(&self) -> Vec<&UpstreamTarget> {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return Vec::new();
        }
        let tick = self.next.fetch_add(1, Ordering::Relaxed) % total;
        let first = self.cumulative.partition_point(|&c| c <= tick);
        let n = self.targets.len();
        let now = now_ms();
        let (mut up, mut down): (Vec<_>, Vec<_>) = (0..n)
            .map(|i| &self.targets[(first + i) % n])
            .partition(|t| t.down_until.load(Ordering::Relaxed) <= now);
        up.append(&mut down);
        up
    }

    /// How many upstreams there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.targets.len()
    }
}

// === impl UpstreamTarget ===

impl UpstreamTarget {
    /// Passes this upstream over for a while: its connect failed.
    pub(crate) fn mark_down(&self) {
        let until = now_ms() + DOWN_FOR.as_millis() as u64;
        self.down_until.store(until, Ordering::Relaxed);
    }

    /// Takes this upstream back: a request to it got an answer.
    pub(crate) fn mark_up(&self) {
        if self.down_until.load(Ordering::Relaxed) != 0 {
            self.down_until.store(0, Ordering::Relaxed);
        }
    }
}

fn target(
    route: &Route,
    upstream: &Upstream,
    client: UpstreamClient,
) -> Result<UpstreamTarget, ProxyError> {
    let url = &upstream.url;
    let bad = |reason: &str| ProxyError::UpstreamTls {
        route: route.id.clone(),
        reason: format!("upstream {url}: {reason}"),
    };
    let host = url.host_str().ok_or_else(|| bad("no host"))?;
    let scheme = if url.scheme() == "https" {
        Scheme::HTTPS
    } else {
        Scheme::HTTP
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if url.scheme() == "https" { 443 } else { 80 });
    let authority: Authority = format!("{host}:{port}")
        .parse()
        .map_err(|_| bad("not a valid authority"))?;
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let host_header = HeaderValue::from_str(&host_header).map_err(|_| bad("not a valid host"))?;
    let base_path = url.path().trim_end_matches('/').to_owned();
    Ok(UpstreamTarget {
        label: url.to_string(),
        scheme,
        authority,
        base_path,
        host_header,
        client,
        down_until: AtomicU64::new(0),
    })
}

/// Milliseconds since the first call (a monotonic clock for the down marks); never 0.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::route;

    #[tokio::test]
    async fn weights_share_the_picks_and_down_upstreams_go_last() {
        let shared = SharedClients::new();
        let upstreams = Upstreams::new(
            &route("[\"http://a.test:81,3\", \"http://b.test:82/base/\"]"),
            &shared,
        )
        .unwrap();
        assert_eq!(upstreams.len(), 2);
        let firsts: Vec<String> = (0..8)
            .map(|_| upstreams.order()[0].authority.to_string())
            .collect();
        assert_eq!(firsts.iter().filter(|a| *a == "a.test:81").count(), 6);
        assert_eq!(firsts.iter().filter(|a| *a == "b.test:82").count(), 2);
        let b = &upstreams.targets[1];
        assert_eq!(b.base_path, "/base");
        assert_eq!(b.host_header, "b.test:82");
        upstreams.targets[0].mark_down();
        for _ in 0..4 {
            let order = upstreams.order();
            assert_eq!(order[0].authority.as_str(), "b.test:82");
            assert_eq!(order.len(), 2, "a down upstream is still tried last");
        }
        upstreams.targets[0].mark_up();
        assert!((0..4).any(|_| upstreams.order()[0].authority.as_str() == "a.test:81"));
    }

    #[tokio::test]
    async fn default_ports_and_h2c() {
        let shared = SharedClients::new();
        let u = Upstreams::new(&route("h2c://grpc.test:9000"), &shared).unwrap();
        let t = &u.targets[0];
        assert_eq!(
            (t.scheme.as_str(), t.authority.as_str()),
            ("http", "grpc.test:9000")
        );
        let u = Upstreams::new(&route("https://secure.test"), &shared).unwrap();
        let t = &u.targets[0];
        assert_eq!(
            (t.scheme.as_str(), t.authority.as_str()),
            ("https", "secure.test:443")
        );
        assert_eq!(t.host_header, "secure.test");
    }
}
