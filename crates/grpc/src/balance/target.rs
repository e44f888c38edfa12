//! One service URL of a balanced channel: where to connect and how to speak TLS.

use std::net::{IpAddr, SocketAddr};

use tonic::transport::{Endpoint, Uri};

use crate::channel::{ChannelError, configure};
use crate::tls::PeerTls;

/// What one service URL points at.
#[derive(Debug)]
pub(crate) struct Target {
    /// The URL as configured (for logs).
    pub(crate) url: String,
    /// The host to resolve (brackets of an IPv6 literal removed).
    pub(crate) host: String,
    pub(crate) port: u16,
    scheme: String,
    /// `scheme://authority/` of the URL: the `:authority` of every call.
    origin: Uri,
    /// The trust for `https://` (SNI and verification always for `host`).
    tls: Option<PeerTls>,
    /// The URL as one endpoint (connecting by name), used until DNS first answers.
    whole: Endpoint,
}

// === impl Target ===

impl Target {
    /// Parses `url` (`http://` is h2c, `https://` TLS with `tls`' roots).
    pub(crate) fn new(url: &str, tls: &PeerTls) -> Result<Target, ChannelError> {
        let invalid = |source| ChannelError::InvalidUrl {
            url: url.to_owned(),
            source,
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| ChannelError::NoHost(url.to_owned()))?;
        let (Some(scheme), Some(host), Some(port)) = (uri.scheme_str(), uri.host(), port_of(&uri))
        else {
            return Err(ChannelError::NoHost(url.to_owned()));
        };
        let tls = match scheme {
            "http" => None,
            "https" => Some(tls.clone()),
            other => {
                return Err(ChannelError::Scheme {
                    url: url.to_owned(),
                    scheme: other.to_owned(),
                });
            }
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let origin = Uri::builder()
            .scheme(scheme)
            .authority(uri.authority().map_or(host.as_str(), |a| a.as_str()))
            .path_and_query("/")
            .build()
            .map_err(|_| ChannelError::NoHost(url.to_owned()))?;
        let whole = configure(Endpoint::from_shared(url.to_owned()).map_err(invalid)?);
        let mut target = Target {
            url: url.to_owned(),
            host,
            port,
            scheme: scheme.to_owned(),
            origin,
            tls,
            whole,
        };
        target.whole = target.with_tls(target.whole.clone()).map_err(invalid)?;
        Ok(target)
    }

    /// The address of an IP-literal host (no DNS needed).
    pub(crate) fn literal(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }

    /// The endpoint for the whole URL (the system resolver finds the host on each connect).
    pub(crate) fn whole(&self) -> Endpoint {
        self.whole.clone()
    }

    /// The endpoint for one resolved address: connects to `addr`, but sends the URL's
    /// authority and, over TLS, the URL's host as SNI and as the name to verify.
    pub(crate) fn at(&self, addr: SocketAddr) -> Endpoint {
        let endpoint = Endpoint::from_shared(format!("{}://{addr}", self.scheme))
            .map(|e| configure(e).origin(self.origin.clone()))
            .and_then(|e| self.with_tls(e));
        match endpoint {
            Ok(endpoint) => endpoint,
            // A scheme and a socket address always make a URI, and the TLS settings were
            // accepted by `new`; never reached.
            Err(_) => self.whole.clone(),
        }
    }

    fn with_tls(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        match &self.tls {
            Some(tls) => endpoint.tls_config(tls.client_config(&self.host)),
            None => Ok(endpoint),
        }
    }
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
    fn default_port_follows_the_scheme() {
        assert_eq!(port_of(&"http://authorize".parse().unwrap()), Some(80));
        assert_eq!(
            port_of(&"http://authorize:5443".parse().unwrap()),
            Some(5443)
        );
    }
}
