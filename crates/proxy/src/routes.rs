//! The route table, compiled once per configuration: a host index (exact host names in a
//! hash map, `*` wildcard patterns after them — a `*` is exactly one label), then each
//! host's path rules (`path` exact, `prefix`, `regex`) in configuration order, matched
//! against the normalized path.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use portcullis_config::{PathMatch, Route};

use crate::ProxyError;
use crate::upstream::{SharedClients, Upstreams};

/// A route and everything derived from it once.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    /// The validated route.
    pub(crate) route: Route,
    /// Its upstreams and their pools.
    pub(crate) upstreams: Upstreams,
    /// `remove_request_headers`, parsed.
    pub(crate) remove_request_headers: Vec<HeaderName>,
    /// `set_request_headers`, parsed.
    pub(crate) set_request_headers: Vec<(HeaderName, HeaderValue)>,
    /// `set_response_headers`, parsed.
    pub(crate) set_response_headers: Vec<(HeaderName, HeaderValue)>,
    /// The route's request metrics, labeled with its id.
    pub(crate) metrics: portcullis_telemetry::RouteMetrics,
}

/// Every route, indexed by host.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    /// Exact host name (lower-case) → its routes in configuration order.
    exact: HashMap<String, Vec<Arc<CompiledRoute>>>,
    /// Wildcard patterns (labels, lower-case) with their routes, in configuration order.
    wildcard: Vec<(Vec<String>, Arc<CompiledRoute>)>,
}

/// The routes a host has, exact ones first.
#[derive(Debug)]
pub(crate) struct HostRoutes<'a> {
    exact: &'a [Arc<CompiledRoute>],
    wildcard: Vec<&'a Arc<CompiledRoute>>,
    port: Option<u16>,
}

// === impl CompiledRoute ===

impl CompiledRoute {
    pub(crate) fn new(route: &Route, clients: &SharedClients) -> Result<Self, ProxyError> {
        let pairs = |map: &std::collections::BTreeMap<String, String>| {
            map.iter()
                .map(|(name, value)| header_pair(&route.id, name, value))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(CompiledRoute {
            upstreams: Upstreams::new(route, clients)?,
            remove_request_headers: route
                .remove_request_headers
                .iter()
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect(),
            set_request_headers: pairs(&route.set_request_headers)?,
            set_response_headers: pairs(&route.set_response_headers)?,
            metrics: portcullis_telemetry::RouteMetrics::new(&route.id),
            route: route.clone(),
        })
    }

    /// True when the route's `from` port accepts a request for `port` (the client's
    /// explicit port, if any): an explicit port must equal `from`'s (or its scheme's default
    /// port); no port matches a `from` without one.
    fn port_matches(&self, port: Option<u16>) -> bool {
        match port {
            Some(p) => Some(p) == self.route.from.port_or_known_default(),
            None => self.route.from.port().is_none(),
        }
    }

    /// True when the route's path rule covers the normalized `path`.
    pub(crate) fn path_matches(&self, path: &str) -> bool {
        match &self.route.path {
            PathMatch::Any => true,
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => path == exact,
            PathMatch::Regex(re) => re.is_match(path),
        }
    }
}

/// A header name and value from configuration.
pub(crate) fn header_pair(
    route: &str,
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), ProxyError> {
    let bad = || ProxyError::HeaderValue {
        route: route.to_owned(),
        name: name.to_owned(),
    };
    Ok((
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?,
        HeaderValue::from_str(value).map_err(|_| bad())?,
    ))
}

// === impl RouteTable ===

impl RouteTable {
    /// Compiles `routes` (in configuration order).
    pub(crate) fn new(routes: &[Route], clients: &SharedClients) -> Result<RouteTable, ProxyError> {
        let mut table = RouteTable::default();
        for route in routes {
            let compiled = Arc::new(CompiledRoute::new(route, clients)?);
            let host = route
                .from
                .host_str()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if host.split('.').any(|label| label == "*") {
                let labels = host.split('.').map(str::to_owned).collect();
                table.wildcard.push((labels, compiled));
            } else {
                table.exact.entry(host).or_default().push(compiled);
            }
        }
        Ok(table)
    }

    /// The routes of `host` (lower-case name) at `port`.
    pub(crate) fn host(&self, host: &str, port: Option<u16>) -> HostRoutes<'_> {
        HostRoutes {
            exact: self.exact.get(host).map_or(&[], Vec::as_slice),
            wildcard: self
                .wildcard
                .iter()
                .filter(|(pattern, _)| wildcard_matches(pattern, host))
                .map(|(_, route)| route)
                .collect(),
            port,
        }
    }
}

// === impl HostRoutes ===

impl<'a> HostRoutes<'a> {
    /// The first route (exact hosts before wildcards, then configuration order) whose port
    /// and path rule match.
    pub(crate) fn find(&self, path: &str) -> Option<&'a Arc<CompiledRoute>> {
        self.candidates().find(|r| r.path_matches(path))
    }

    /// The first route of the host, whatever its path rule: what the user page and other
    /// host-wide endpoints decide against.
    pub(crate) fn first(&self) -> Option<&'a Arc<CompiledRoute>> {
        self.candidates().next()
    }

    fn candidates(&self) -> impl Iterator<Item = &'a Arc<CompiledRoute>> + '_ {
        self.exact
            .iter()
            .chain(self.wildcard.iter().copied())
            .filter(move |r| r.port_matches(self.port))
    }
}

/// `pattern` labels (each `*` is exactly one non-empty label) against `host`.
fn wildcard_matches(pattern: &[String], host: &str) -> bool {
    let mut labels = host.split('.');
    for p in pattern {
        match labels.next() {
            Some(label) if !label.is_empty() && (p == "*" || p == label) => {}
            _ => return false,
        }
    }
    labels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::config;

    fn table(routes: &str) -> RouteTable {
        RouteTable::new(&config(routes).routes, &SharedClients::new()).unwrap()
    }

    fn id(table: &RouteTable, host: &str, port: Option<u16>, path: &str) -> Option<String> {
        table
            .host(host, port)
            .find(path)
            .map(|r| r.route.id.clone())
    }

    const ROUTES: &str = "  - {id: exact, from: https://app.example.com, path: /exact, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: prefix, from: https://app.example.com, prefix: /api, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: regex, from: https://app.example.com, regex: '/r/[0-9]+', to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: api-first, from: https://app.example.com, prefix: /api/v2, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: wild, from: https://*.example.com, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: deep-wild, from: https://a.*.example.com, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: port, from: https://port.example.com:8443, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
";

    #[tokio::test]
    async fn exact_host_rules_in_order_then_wildcards() {
        let t = table(ROUTES);
        let app = |path| id(&t, "app.example.com", None, path);
        assert_eq!(app("/exact").as_deref(), Some("exact"));
        assert_eq!(
            app("/api/v2/x").as_deref(),
            Some("prefix"),
            "config order wins"
        );
        assert_eq!(
            app("/apix").as_deref(),
            Some("prefix"),
            "prefix is a string prefix"
        );
        assert_eq!(app("/r/42").as_deref(), Some("regex"));
        assert_eq!(
            app("/r/42/x").as_deref(),
            Some("wild"),
            "regexes match the whole path; then the wildcard host's route"
        );
        assert_eq!(app("/exact/").as_deref(), Some("wild"));
        assert_eq!(
            id(&t, "other.example.com", None, "/").as_deref(),
            Some("wild")
        );
        assert_eq!(
            id(&t, "a.b.example.com", None, "/").as_deref(),
            Some("deep-wild")
        );
        assert_eq!(id(&t, "x.y.example.com", None, "/"), None, "* is one label");
        assert_eq!(id(&t, "example.com", None, "/"), None);
        assert_eq!(id(&t, ".example.com", None, "/"), None);
        assert_eq!(id(&t, "app.example.org", None, "/"), None);
    }

    #[tokio::test]
    async fn ports_must_agree_with_from() {
        let t = table(ROUTES);
        assert_eq!(
            id(&t, "app.example.com", Some(443), "/exact").as_deref(),
            Some("exact")
        );
        assert_eq!(id(&t, "app.example.com", Some(8443), "/exact"), None);
        assert_eq!(
            id(&t, "port.example.com", Some(8443), "/").as_deref(),
            Some("port")
        );
        assert_eq!(
            id(&t, "port.example.com", None, "/").as_deref(),
            Some("wild"),
            "no port: not the :8443 route"
        );
        let host = t.host("app.example.com", None);
        assert_eq!(host.first().map(|r| r.route.id.as_str()), Some("exact"));
    }
}
