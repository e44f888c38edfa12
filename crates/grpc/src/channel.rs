//! Client channels to other roles.
//!
//! - [`connect_lazy`]: one lazily connected channel to the URL as written (the operating
//!   system resolves the host on each connect).
//! - [`connect_peers`]: design §7's client-side load balancing over every URL of a service
//!   (`*_service_urls`). Each host is resolved through DNS (hickory) to all of its A/AAAA
//!   records, one endpoint per address; calls are spread over the endpoints of all the URLs;
//!   names are re-resolved every [`DnsOptions::refresh_rate`] and sooner when calls fail, and
//!   endpoints enter and leave the rotation by their `grpc.health.v1` status (see
//!   [`crate::balance`]). [`connect_balanced`] is the one-URL form.
//!
//! `http://` URLs speak h2c; `https://` URLs speak TLS, verifying the peer's certificate
//! for the URL's host name against [`PeerTls`]'s roots (even when connecting to a resolved
//! address).

use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::balance::{self, Failover, Target};
use crate::tls::{PeerTls, TlsError};

/// Why a channel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The service URL is not a valid URI, or tonic refused its TLS settings (a host that
    /// is no valid TLS server name).
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
    /// The service URL's scheme is neither `http` nor `https`.
    #[error("service url {url:?}: scheme {scheme:?} is not http or https")]
    Scheme {
        /// The URL as configured.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// No service URL was given.
    #[error("no service url")]
    NoUrl,
    /// The trusted roots could not be built (`certificate_authority`).
    #[error(transparent)]
    Tls(#[from] TlsError),
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

/// How clients reach their peers: DNS (`dns_refresh_rate`, `dns_resolvers`) and the roots
/// trusted for `https://` URLs (`certificate_authority`).
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// Name resolution.
    pub dns: DnsOptions,
    /// TLS trust.
    pub tls: PeerTls,
}

impl PeerOptions {
    /// The configuration's DNS settings and `certificate_authority`.
    pub fn from_config(config: &portcullis_config::Config) -> Result<PeerOptions, TlsError> {
        Ok(PeerOptions {
            dns: DnsOptions::from_config(config),
            tls: PeerTls::from_config(config)?,
        })
    }
}

impl From<DnsOptions> for PeerOptions {
    /// `dns`, trusting the system's roots.
    fn from(dns: DnsOptions) -> PeerOptions {
        PeerOptions {
            dns,
            tls: PeerTls::default(),
        }
    }
}

/// A channel to `url` that connects on first use and reconnects after failures (TLS with
/// the system's roots for `https://`). Calls fail with `UNAVAILABLE` while the peer cannot
/// be reached.
pub fn connect_lazy(url: &str) -> Result<Channel, ChannelError> {
    Ok(Target::new(url, &PeerTls::default())?
        .whole()
        .connect_lazy())
}

/// [`connect_peers`] for one URL, trusting the system's roots.
pub fn connect_balanced(url: &str, options: &DnsOptions) -> Result<BalancedChannel, ChannelError> {
    connect_peers(&[url], &PeerOptions::from(options.clone()))
}

/// A channel that spreads calls over every address DNS returns for the host of each of
/// `urls` (design §7), re-resolving every `options.dns.refresh_rate`.
///
/// A single IP-literal URL needs no balancing: the channel then has that one endpoint.
/// Otherwise a background task resolves the names, adds endpoints that appear and pass a
/// health check, removes those that vanish or stop serving (calls in flight on a removed
/// endpoint finish), keeps the last good set when DNS fails or answers nothing, and ejects
/// unreachable endpoints when calls fail. Calls made before the first round wait for it.
///
/// Must be called inside a tokio runtime; the task ends when every clone of the channel is
/// dropped.
pub fn connect_peers<U: AsRef<str>>(
    urls: &[U],
    options: &PeerOptions,
) -> Result<BalancedChannel, ChannelError> {
    let targets = urls
        .iter()
        .map(|url| Target::new(url.as_ref(), &options.tls))
        .collect::<Result<Vec<_>, _>>()?;
    let first = targets.first().ok_or(ChannelError::NoUrl)?;
    if targets.len() == 1 && first.literal().is_some() {
        return Ok(BalancedChannel {
            channel: first.whole().connect_lazy(),
            failover: Failover::none(),
        });
    }
    let resolver = match targets.iter().find(|t| t.literal().is_none()) {
        None => None,
        Some(named) => {
            Some(
                balance::resolver(&options.dns).map_err(|source| ChannelError::Resolver {
                    url: named.url.clone(),
                    source,
                })?,
            )
        }
    };
    let (channel, failover) = balance::spawn(targets, resolver, options.dns.refresh_rate);
    Ok(BalancedChannel { channel, failover })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn https_is_accepted_and_other_schemes_are_not() {
        assert!(connect_lazy("https://authorize:5443").is_ok());
        let err = connect_lazy("ftp://authorize:5443").unwrap_err();
        assert!(matches!(err, ChannelError::Scheme { .. }), "{err}");
        let none: [&str; 0] = [];
        let err = connect_peers(&none, &PeerOptions::default()).unwrap_err();
        assert!(matches!(err, ChannelError::NoUrl), "{err}");
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
}
