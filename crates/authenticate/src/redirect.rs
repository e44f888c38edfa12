//! Where a login may return to: no open redirects.
//!
//! A browser login returns to a URL on the host of a configured route: same scheme, a host
//! that equals the route's `from` host or matches its `*` labels, and the same port. A
//! programmatic login returns to a loopback `http` URL (`127.0.0.1`, `[::1]`, `localhost`,
//! any port), where the command-line client listens for its token.

use std::net::{Ipv4Addr, Ipv6Addr};

use portcullis_config::Route;
use url::{Host, Url};

/// The route origins a login may return to.
#[derive(Debug, Clone)]
pub(crate) struct RedirectPolicy {
    origins: Vec<Url>,
}

// === impl RedirectPolicy ===

impl RedirectPolicy {
    pub(crate) fn new(routes: &[Route]) -> RedirectPolicy {
        RedirectPolicy {
            origins: routes.iter().map(|r| r.from.clone()).collect(),
        }
    }

    /// `text` as a URL, when a login may return there.
    pub(crate) fn check(&self, text: &str, programmatic: bool) -> Option<Url> {
        let url = Url::parse(text).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let allowed = if programmatic {
            is_loopback(&url)
        } else {
            self.origins.iter().any(|from| same_origin(from, &url))
        };
        allowed.then_some(url)
    }
}

fn same_origin(from: &Url, url: &Url) -> bool {
    from.scheme() == url.scheme()
        && from.port_or_known_default() == url.port_or_known_default()
        && match (from.host_str(), url.host()) {
            (Some(pattern), Some(Host::Domain(host))) => {
                portcullis_config::host_name_matches(pattern, host)
            }
            (Some(_), Some(host)) => from.host() == Some(host),
            _ => false,
        }
}

fn is_loopback(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
            Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
            Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        RedirectPolicy {
            origins: [
                "https://app.example.com",
                "https://*.apps.example.com:8443",
                "http://127.0.0.1:8080",
            ]
            .iter()
            .map(|u| Url::parse(u).unwrap())
            .collect(),
        }
    }

    #[test]
    fn only_route_hosts_for_browsers() {
        let p = policy();
        let ok = |u: &str| p.check(u, false).is_some();
        assert!(ok("https://app.example.com/a?b=c"));
        assert!(ok("https://APP.example.com./"));
        assert!(ok("https://x.apps.example.com:8443/"));
        assert!(ok("http://127.0.0.1:8080/"));
        assert!(!ok("https://x.apps.example.com/"), "port");
        assert!(!ok("http://app.example.com/"), "scheme");
        assert!(!ok("https://evil.com/"));
        assert!(!ok("https://app.example.com.evil.com/"));
        assert!(!ok("https://a.b.apps.example.com:8443/"), "one label per *");
        assert!(!ok("https://user@app.example.com/"));
        assert!(!ok("/relative"));
        assert!(
            !ok("http://localhost:9999/"),
            "loopback only for programmatic"
        );
    }

    #[test]
    fn only_loopback_for_programmatic() {
        let p = policy();
        let ok = |u: &str| p.check(u, true).is_some();
        assert!(ok("http://127.0.0.1:5555/cb"));
        assert!(ok("http://[::1]:5555/"));
        assert!(ok("http://localhost:5555/"));
        assert!(!ok("https://127.0.0.1:5555/"));
        assert!(!ok("http://127.0.0.2:5555/"));
        assert!(!ok("http://localhost.evil.com/"));
        assert!(
            !ok("https://app.example.com/"),
            "route hosts are for browsers"
        );
    }
}
