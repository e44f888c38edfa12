//! The routes authorize decides for: by id (what the proxy and Envoy's per-route
//! `context_extensions` send), or matched by host and path when no id is given.

use std::collections::HashMap;
use std::sync::Arc;

use portcullis_config::{PathMatch, Route, host_name_matches};

/// A route and what the engine derives from it once.
#[derive(Debug)]
pub(crate) struct RouteEntry {
    /// The validated route with its compiled policy.
    pub(crate) route: Route,
    /// `iss` and `aud` of the identity JWT: the `from` host, with its port when explicit.
    pub(crate) audience: String,
}

/// Every route, indexed by id.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    by_id: HashMap<String, Arc<RouteEntry>>,
    in_order: Vec<Arc<RouteEntry>>,
}

// === impl RouteTable ===

impl RouteTable {
    pub(crate) fn new(routes: &[Route]) -> RouteTable {
        let mut table = RouteTable::default();
        for route in routes {
            let host = route.from.host_str().unwrap_or_default();
            let audience = match route.from.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            let entry = Arc::new(RouteEntry {
                route: route.clone(),
                audience,
            });
            // Ids are unique after validation; the first one wins if not.
            table
                .by_id
                .entry(route.id.clone())
                .or_insert_with(|| Arc::clone(&entry));
            table.in_order.push(entry);
        }
        table
    }

    /// The route with `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&Arc<RouteEntry>> {
        self.by_id.get(id)
    }

    /// The first route (in configuration order) whose `from` host and path rule match.
    /// Routes with an exact host come before wildcard ones, as in Envoy's virtual hosts.
    pub(crate) fn find(&self, scheme: &str, host: &str, path: &str) -> Option<&Arc<RouteEntry>> {
        let matches = |e: &&Arc<RouteEntry>| {
            host_matches(&e.route, scheme, host) && path_matches(&e.route.path, path)
        };
        let exact = |e: &&Arc<RouteEntry>| !e.route.from.host_str().unwrap_or("").contains('*');
        self.in_order
            .iter()
            .filter(exact)
            .find(matches)
            .or_else(|| self.in_order.iter().filter(|e| !exact(e)).find(matches))
    }

    /// How many routes there are.
    pub(crate) fn len(&self) -> usize {
        self.in_order.len()
    }
}

fn host_matches(route: &Route, scheme: &str, host: &str) -> bool {
    let from = &route.from;
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
            (name, port.parse::<u16>().ok())
        }
        _ => (host, None),
    };
    let default_port = if scheme.is_empty() {
        from.port_or_known_default()
    } else {
        match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        }
    };
    from.host_str()
        .is_some_and(|h| host_name_matches(h, name.trim_end_matches('.')))
        && from.port_or_known_default() == port.or(default_port)
}

fn path_matches(rule: &PathMatch, path: &str) -> bool {
    match rule {
        PathMatch::Any => true,
        PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
        PathMatch::Exact(exact) => path == exact,
        PathMatch::Regex(re) => re.is_match(path),
    }
}

#[cfg(test)]
mod tests {
    use super::host_name_matches;

    #[test]
    fn wildcard_labels_match_exactly_one_label() {
        assert!(host_name_matches("*.example.com", "app.example.com"));
        assert!(host_name_matches("*.example.com", "APP.Example.com"));
        assert!(!host_name_matches("*.example.com", "example.com"));
        assert!(!host_name_matches("*.example.com", "a.b.example.com"));
        assert!(!host_name_matches("*.example.com", "app.example.org"));
        assert!(host_name_matches("app.*.example.com", "app.eu.example.com"));
    }
}
