//! Client channels to other roles.
//!
//! - [`connect_lazy`]: one lazily connected channel to the URL as written (the operating
//!   system resolves the host on each connect).
//! - [`connect_balanced`]: design §7's client-side load balancing. The host is resolved
//!   through DNS (hickory) to all of its A/AAAA records, one endpoint per address; calls are
//!   spread over the endpoints; the name is re-resolved every
//!   [`DnsOptions::refresh_rate`] and sooner when calls fail (see [`crate::balance`]).
//!
//! Both speak h2c for `http://` URLs; `https://` is refused until TLS to peers arrives.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint, Uri};

use crate::balance::{self, Failover};

/// Why a channel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The service URL is not a valid `http://` URI.
    #[error("invalid service url {url:?}: {source}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What tonic objected to.
        #[source]
        source: tonic::transport::Error,
    },
    /// The service URL has no host, or no port and no known default port.
    #[error("service url {0:?} has no host or port")]
    NoHost(String),
    /// `https://` needs TLS, which arrives with the TLS issue.
    #[error("service url {0:?}: https is not supported yet")]
    TlsUnsupported(String),
    /// The DNS resolver could not be set up (e.g. `/etc/resolv.conf` unreadable).
    #[error("cannot set up the DNS resolver for {url:?}: {source}")]
    Resolver {
        /// The URL as configured.
        url: String,
        /// What hickory objected to.
        #[source]
        source: hickory_resolver::net::NetError,
    },
}

/// How service names are resolved (`dns_refresh_rate`, `dns_resolvers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsOptions {
    /// How often the name is re-resolved (at least every 50 ms).
    pub refresh_rate: Duration,
    /// DNS servers to ask; empty: the system configuration (`/etc/resolv.conf`).
    pub resolvers: Vec<SocketAddr>,
}

impl Default for DnsOptions {
    /// Every 5 s, through the system configuration.
    fn default() -> Self {
        DnsOptions {
            refresh_rate: Duration::from_secs(5),
            resolvers: Vec::new(),
        }
    }
}

impl DnsOptions {
    /// The configuration's `dns_refresh_rate` and `dns_resolvers`.
    pub fn from_config(config: &portcullis_config::Config) -> DnsOptions {
        DnsOptions {
            refresh_rate: config.dns_refresh_rate,
            resolvers: config.dns_resolvers.clone(),
        }
    }
}

/// A load-balanced channel and the [`Failover`] handle that lets callers report failed
/// calls (so dead endpoints leave the rotation before a retry).
#[derive(Debug, Clone)]
pub struct BalancedChannel {
    channel: Channel,
    failover: Failover,
}

impl BalancedChannel {
    /// The channel: clone it into tonic clients.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The failure-reporting handle of this channel.
    pub fn failover(&self) -> Failover {
        self.failover.clone()
    }

    /// The channel and its failure-reporting handle.
    pub fn into_parts(self) -> (Channel, Failover) {
        (self.channel, self.failover)
    }
}

/// A channel to `url` that connects on first use and reconnects after
/// failures. Calls fail with `UNAVAILABLE` while the peer cannot be reached.
pub fn connect_lazy(url: &str) -> Result<Channel, ChannelError> {
    Ok(endpoint(url)?.connect_lazy())
}

/// A channel that spreads calls over every address DNS returns for the host of `url`
/// (design §7), re-resolving every `options.refresh_rate`.
///
/// An IP-literal host needs no DNS: the channel then has that one endpoint. Otherwise a
/// background task resolves the name, adds endpoints that appear and removes those that
/// vanish (calls in flight on a removed endpoint finish), keeps the last good set when DNS
/// fails or answers nothing, and ejects unreachable endpoints when calls fail. Calls made
/// before the first resolution wait for it.
///
/// Must be called inside a tokio runtime; the task ends when every clone of the channel is
/// dropped.
pub fn connect_balanced(url: &str, options: &DnsOptions) -> Result<BalancedChannel, ChannelError> {
    let whole = endpoint(url)?;
    let uri = whole.uri().clone();
    let (Some(scheme), Some(host), Some(port)) = (uri.scheme_str(), uri.host(), port_of(&uri))
    else {
        return Err(ChannelError::NoHost(url.to_owned()));
    };
    // `Uri::host` keeps the brackets of an IPv6 literal.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if literal.parse::<IpAddr>().is_ok() {
        return Ok(BalancedChannel {
            channel: whole.connect_lazy(),
            failover: Failover::none(),
        });
    }
    let origin = Uri::builder()
        .scheme(scheme)
        .authority(uri.authority().map_or(host, |a| a.as_str()))
        .path_and_query("/")
        .build()
        .map_err(|_| ChannelError::NoHost(url.to_owned()))?;
    let resolver = balance::resolver(options).map_err(|source| ChannelError::Resolver {
        url: url.to_owned(),
        source,
    })?;
    let target = balance::Target {
        url: url.to_owned(),
        host: host.to_owned(),
        port,
        scheme: scheme.to_owned(),
        origin,
        whole,
    };
    let (channel, failover) = balance::spawn(target, resolver, options.refresh_rate);
    Ok(BalancedChannel { channel, failover })
}

/// The endpoint for `url` with portcullis' connection settings.
pub(crate) fn endpoint(url: &str) -> Result<Endpoint, ChannelError> {
    if url.starts_with("https://") {
        return Err(ChannelError::TlsUnsupported(url.to_owned()));
    }
    let endpoint =
        Endpoint::from_shared(url.to_owned()).map_err(|source| ChannelError::InvalidUrl {
            url: url.to_owned(),
            source,
        })?;
    Ok(configure(endpoint))
}

/// Timeouts and keep-alives shared by every endpoint.
pub(crate) fn configure(endpoint: Endpoint) -> Endpoint {
    endpoint
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
}

fn port_of(uri: &Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_refused() {
        let err = connect_lazy("https://authorize:5443").unwrap_err();
        assert!(matches!(err, ChannelError::TlsUnsupported(_)), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(connect_lazy("http://exa mple").is_err());
        assert!(connect_balanced("not a url", &DnsOptions::default()).is_err());
        assert!(connect_balanced("http:///path", &DnsOptions::default()).is_err());
    }

    #[tokio::test]
    async fn ip_literals_need_no_dns() {
        let options = DnsOptions {
            resolvers: vec!["192.0.2.1:53".parse().unwrap()],
            ..DnsOptions::default()
        };
        let v4 = connect_balanced("http://127.0.0.1:5443", &options).unwrap();
        assert!(!v4.failover().is_balanced());
        let v6 = connect_balanced("http://[::1]:5443", &options).unwrap();
        assert!(!v6.failover().is_balanced());
    }

    #[test]
    fn default_port_follows_the_scheme() {
        assert_eq!(port_of(&"http://authorize".parse().unwrap()), Some(80));
        assert_eq!(
            port_of(&"http://authorize:5443".parse().unwrap()),
            Some(5443)
        );
    }
}
