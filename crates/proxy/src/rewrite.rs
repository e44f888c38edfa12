//! Where the request goes upstream: the path after `prefix_rewrite` and
//! `regex_rewrite_pattern`/`_substitution`, under the upstream URL's own path, and the `Host`
//! it carries (the upstream's, the client's with `preserve_host_header`, or `host_rewrite`).

use http::{HeaderValue, Uri};
use portcullis_config::{PathMatch, Route};

use crate::upstream::UpstreamTarget;

/// The route's rewrites applied to the normalized `path`.
///
/// `prefix_rewrite` replaces the part the path rule matched: the `prefix`, the whole `path`,
/// or the leading `/` for routes without a rule (and `regex` ones). Where the rewrite ends in
/// `/` and the rest starts with one, the two merge. `regex_rewrite` then replaces every match.
pub(crate) fn rewrite_path(route: &Route, path: &str) -> String {
    let mut path = path.to_owned();
    if let Some(rewrite) = &route.prefix_rewrite {
        let matched = match &route.path {
            PathMatch::Prefix(p) | PathMatch::Exact(p) if path.starts_with(p.as_str()) => p,
            _ => "/",
        };
        let rest = &path[matched.len().min(path.len())..];
        path = if rewrite.ends_with('/') && rest.starts_with('/') {
            format!("{rewrite}{}", &rest[1..])
        } else {
            format!("{rewrite}{rest}")
        };
    }
    if let Some(rr) = &route.regex_rewrite {
        path = rr
            .pattern
            .replace_all(&path, rr.substitution.as_str())
            .into_owned();
    }
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    path
}

/// The absolute URI of the upstream request: `target`'s scheme and authority, its base path,
/// then `path` and `query`.
pub(crate) fn upstream_uri(
    target: &UpstreamTarget,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, http::Error> {
    let mut path_and_query = String::with_capacity(target.base_path.len() + path.len() + 16);
    path_and_query.push_str(&target.base_path);
    path_and_query.push_str(path);
    if let Some(q) = query {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    Uri::builder()
        .scheme(target.scheme.clone())
        .authority(target.authority.clone())
        .path_and_query(path_and_query)
        .build()
}

/// The `Host` to send upstream.
pub(crate) fn upstream_host(
    route: &Route,
    target: &UpstreamTarget,
    client_authority: &str,
) -> HeaderValue {
    let chosen = if route.preserve_host_header {
        Some(client_authority)
    } else {
        route.host_rewrite.as_deref()
    };
    chosen
        .and_then(|h| HeaderValue::from_str(h).ok())
        .unwrap_or_else(|| target.host_header.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::config;
    use crate::upstream::{SharedClients, Upstreams};

    fn route(extra: &str) -> Route {
        config(&format!(
            "  - from: https://app.example.com\n    to: http://up.test:8080/base/\n    allow_public_unauthenticated_access: true\n{extra}"
        ))
        .routes
        .remove(0)
    }

    #[test]
    fn prefix_rewrite_replaces_what_the_rule_matched() {
        let r = route("    prefix: /api\n    prefix_rewrite: /v1\n");
        assert_eq!(rewrite_path(&r, "/api/users"), "/v1/users");
        assert_eq!(rewrite_path(&r, "/api"), "/v1");
        let r = route("    prefix: /admin/\n    prefix_rewrite: /\n");
        assert_eq!(rewrite_path(&r, "/admin/x"), "/x");
        let r = route("    prefix: /admin\n    prefix_rewrite: /\n");
        assert_eq!(rewrite_path(&r, "/admin/x"), "/x", "no `//`");
        let r = route("    path: /old\n    prefix_rewrite: /new\n");
        assert_eq!(rewrite_path(&r, "/old"), "/new");
        let r = route("    prefix_rewrite: /mount/\n");
        assert_eq!(rewrite_path(&r, "/a/b"), "/mount/a/b");
    }

    #[test]
    fn regex_rewrite_replaces_every_match() {
        let r = route(
            "    regex_rewrite_pattern: '^/service/([^/]+)(/.*)$'\n    regex_rewrite_substitution: '$2/instance/$1'\n",
        );
        assert_eq!(
            rewrite_path(&r, "/service/foo/v1/api"),
            "/v1/api/instance/foo"
        );
        assert_eq!(rewrite_path(&r, "/other"), "/other");
        let r = route("    regex_rewrite_pattern: 'a'\n    regex_rewrite_substitution: 'b'\n");
        assert_eq!(rewrite_path(&r, "/aXa"), "/bXb");
    }

    #[tokio::test]
    async fn uri_and_host() {
        let r = route("    host_rewrite: internal.test\n");
        let upstreams = Upstreams::new(&r, &SharedClients::new()).unwrap();
        let target = upstreams.order()[0];
        let uri = upstream_uri(target, "/x", Some("a=1")).unwrap();
        assert_eq!(uri.to_string(), "http://up.test:8080/base/x?a=1");
        assert_eq!(
            upstream_host(&r, target, "app.example.com"),
            "internal.test"
        );
        let plain = route("");
        assert_eq!(
            upstream_host(&plain, target, "app.example.com"),
            "up.test:8080"
        );
        let keep = route("    preserve_host_header: true\n");
        assert_eq!(
            upstream_host(&keep, target, "app.example.com"),
            "app.example.com"
        );
    }
}
