//! Routes: a public `from` URL (host and path rule) forwarded to upstream `to` URLs under a
//! compiled policy.

use std::collections::BTreeMap;
use std::time::Duration;

use portcullis_policy::{LegacyRules, Policy};
use portcullis_yaml::{Node, Origin};
use url::Url;

use crate::problem::Collector;
use crate::raw::{RawRoute, Spanned};
use crate::values::{check_certificates, parse_duration, pem_text};

mod rewrite_tls;

use crate::config::CertificatePair;
pub use rewrite_tls::RegexRewrite;

/// One validated route.
#[derive(Debug, Clone)]
pub struct Route {
    /// `id`, or a stable hash of `from` and the path rule when unset.
    pub id: String,
    /// `name`, for pages and logs.
    pub name: Option<String>,
    /// The public URL: scheme, host and optional port; no path.
    pub from: Url,
    /// The upstreams, each with a weight (`http://a:8080,10`; default 1).
    pub to: Vec<Upstream>,
    /// Which paths of `from` the route covers.
    pub path: PathMatch,
    /// `prefix_rewrite`: replaces the matched prefix before forwarding.
    pub prefix_rewrite: Option<String>,
    /// `regex_rewrite_pattern` / `regex_rewrite_substitution`: rewrites the path upstream.
    pub regex_rewrite: Option<RegexRewrite>,
    /// `preserve_host_header`: send the client's Host upstream instead of the upstream's.
    pub preserve_host_header: bool,
    /// `host_rewrite`: send this Host upstream.
    pub host_rewrite: Option<String>,
    /// `set_request_headers`.
    pub set_request_headers: BTreeMap<String, String>,
    /// `remove_request_headers`.
    pub remove_request_headers: Vec<String>,
    /// `set_response_headers`.
    pub set_response_headers: BTreeMap<String, String>,
    /// `pass_identity_headers` (route value, else the global one).
    pub pass_identity_headers: bool,
    /// `allow_websockets`.
    pub allow_websockets: bool,
    /// `timeout` for the whole upstream exchange (else `default_upstream_timeout`).
    pub timeout: Duration,
    /// `idle_timeout` for streams with no traffic.
    pub idle_timeout: Option<Duration>,
    /// `tls_skip_verify`: do not verify the upstream certificate. Dangerous; for tests.
    pub dangerous_tls_skip_verify: bool,
    /// `tls_upstream_server_name` (or Pomerium's older `tls_server_name`).
    pub tls_server_name: Option<String>,
    /// `tls_custom_ca(_file)`: PEM roots that upstream certificates must chain to.
    pub tls_custom_ca: Option<Vec<u8>>,
    /// `tls_client_cert`/`tls_client_key` (or `_file`): the certificate shown to upstreams.
    pub tls_client_certificate: Option<CertificatePair>,
    /// The compiled `policy` together with the legacy allow fields.
    pub policy: Policy,
}

/// One upstream of a route.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// `http://`, `https://` or `h2c://` URL.
    pub url: Url,
    /// Relative share of requests.
    pub weight: u32,
}

/// The path rule of a route.
#[derive(Debug, Clone)]
pub enum PathMatch {
    /// Every path.
    Any,
    /// `prefix`: paths starting with it.
    Prefix(String),
    /// `path`: exactly this path.
    Exact(String),
    /// `regex`: paths the whole of which match.
    Regex(regex::Regex),
}

/// Route-level settings that default to global ones.
pub(crate) struct RouteDefaults {
    pub(crate) pass_identity_headers: bool,
    pub(crate) timeout: Duration,
}

/// Validates one route; `None` (with problems recorded) when it is unusable.
pub(crate) fn validate_route(
    index: usize,
    raw: RawRoute,
    policy: Option<&Node>,
    origin: &Origin,
    defaults: &RouteDefaults,
    problems: &mut Collector,
) -> Option<Route> {
    let key = |field: &str| format!("routes[{index}].{field}");
    let before = problems.problems.len();

    let from = match &raw.from {
        None => {
            problems.add(key("from"), Some(origin), "every route needs `from`");
            None
        }
        Some(s) => parse_from(&s.value)
            .map_err(|m| problems.add(key("from"), Some(&s.origin), m))
            .ok(),
    };
    let mut to = Vec::new();
    match &raw.to {
        None => problems.add(key("to"), Some(origin), "every route needs `to`"),
        Some(s) if s.value.0.is_empty() => problems.add(
            key("to"),
            Some(&s.origin),
            "needs at least one upstream URL",
        ),
        Some(s) => {
            for item in &s.value.0 {
                match parse_upstream(item) {
                    Ok(u) => to.push(u),
                    Err(m) => problems.add(key("to"), Some(&s.origin), m),
                }
            }
        }
    }

    let path = path_match(&raw, &key, problems);
    if let Some(p) = raw
        .prefix_rewrite
        .as_ref()
        .filter(|p| !p.value.starts_with('/'))
    {
        problems.add(
            key("prefix_rewrite"),
            Some(&p.origin),
            "must start with `/`",
        );
    }
    for (field, map) in [
        ("set_request_headers", &raw.set_request_headers),
        ("set_response_headers", &raw.set_response_headers),
    ] {
        if let Some(m) = map {
            check_header_names(m.value.keys(), &key(field), &m.origin, problems);
        }
    }
    if let Some(l) = &raw.remove_request_headers {
        check_header_names(
            l.value.0.iter(),
            &key("remove_request_headers"),
            &l.origin,
            problems,
        );
    }
    let timeout = duration(&raw.timeout, &key("timeout"), problems).unwrap_or(defaults.timeout);
    let idle_timeout = duration(&raw.idle_timeout, &key("idle_timeout"), problems);
    let tls_custom_ca = custom_ca(&raw, &key, problems);
    let tls_client_certificate = rewrite_tls::client_certificate(&raw, &key, problems);
    let regex_rewrite = rewrite_tls::regex_rewrite(&raw, &key, problems);
    let host_rewrite = rewrite_tls::host_rewrite(&raw, &key, problems);

    let tls_server_name = match (&raw.tls_upstream_server_name, &raw.tls_server_name) {
        (Some(a), Some(_)) => {
            problems.add(
                key("tls_server_name"),
                Some(&a.origin),
                "set only one of `tls_upstream_server_name` and `tls_server_name`",
            );
            None
        }
        (a, b) => a.as_ref().or(b.as_ref()).map(|s| s.value.clone()),
    };

    let legacy = LegacyRules {
        allow_public_unauthenticated_access: flag(&raw.allow_public_unauthenticated_access),
        allow_any_authenticated_user: flag(&raw.allow_any_authenticated_user),
        cors_allow_preflight: flag(&raw.cors_allow_preflight),
        allowed_users: raw.allowed_users.map(|s| s.value.0).unwrap_or_default(),
        allowed_domains: raw.allowed_domains.map(|s| s.value.0).unwrap_or_default(),
        allowed_idp_claims: raw.allowed_idp_claims.map(|s| s.value).unwrap_or_default(),
    };
    let policy = portcullis_policy::compile(policy, &legacy)
        .map_err(|errors| {
            for e in errors {
                problems.add(key("policy"), e.origin.as_ref().or(Some(origin)), e.message);
            }
        })
        .ok();

    if problems.problems.len() > before {
        return None;
    }
    let from = from?;
    let id = match raw.id {
        Some(id) => id.value,
        None => derived_id(&from, &path),
    };
    Some(Route {
        id,
        name: raw.name.map(|s| s.value),
        from,
        to,
        path,
        prefix_rewrite: raw.prefix_rewrite.map(|s| s.value),
        regex_rewrite,
        preserve_host_header: flag(&raw.preserve_host_header),
        host_rewrite,
        set_request_headers: raw.set_request_headers.map(|s| s.value).unwrap_or_default(),
        remove_request_headers: raw
            .remove_request_headers
            .map(|s| s.value.0)
            .unwrap_or_default(),
        set_response_headers: raw
            .set_response_headers
            .map(|s| s.value)
            .unwrap_or_default(),
        pass_identity_headers: raw
            .pass_identity_headers
            .map_or(defaults.pass_identity_headers, |s| s.value),
        allow_websockets: flag(&raw.allow_websockets),
        timeout,
        idle_timeout,
        dangerous_tls_skip_verify: flag(&raw.tls_skip_verify),
        tls_server_name,
        tls_custom_ca,
        tls_client_certificate,
        policy: policy?,
    })
}

/// Whether `host` is matched by a route's `from` host name `pattern`, whose labels may be `*`
/// (exactly one whole label each). Case-insensitive; a trailing dot on `host` is ignored.
pub fn host_name_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if !pattern.contains('*') {
        return pattern.eq_ignore_ascii_case(host);
    }
    let (mut p, mut h) = (pattern.split('.'), host.split('.'));
    loop {
        match (p.next(), h.next()) {
            (None, None) => return true,
            (Some("*"), Some(label)) if !label.is_empty() => {}
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
            _ => return false,
        }
    }
}

fn flag(value: &Option<Spanned<bool>>) -> bool {
    value.as_ref().is_some_and(|s| s.value)
}

fn duration(value: &Option<Spanned<String>>, key: &str, p: &mut Collector) -> Option<Duration> {
    let s = value.as_ref()?;
    parse_duration(&s.value)
        .map_err(|m| p.add(key, Some(&s.origin), m))
        .ok()
}

fn parse_from(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?}: the scheme must be https or http"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    let host = url.host_str().unwrap_or_default();
    if host.contains('*')
        && host
            .split('.')
            .any(|label| label.contains('*') && label != "*")
    {
        return Err(format!(
            "{text:?}: a wildcard must be a whole label (`*.example.com`)"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} must not have a path or query; use `prefix`, `path` or `regex`"
        ));
    }
    Ok(url)
}

fn parse_upstream(text: &str) -> Result<Upstream, String> {
    let (url_text, weight) = match text.rsplit_once(',') {
        Some((u, w)) => {
            let weight: u32 = w.trim().parse().ok().filter(|w| *w > 0).ok_or_else(|| {
                format!("{text:?}: the weight after `,` must be a positive integer")
            })?;
            (u, weight)
        }
        None => (text, 1),
    };
    let url = Url::parse(url_text.trim()).map_err(|e| format!("{url_text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https" | "h2c") {
        return Err(format!(
            "{url_text:?}: the scheme must be http, https or h2c"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url_text:?} has no host"));
    }
    Ok(Upstream { url, weight })
}

fn path_match(raw: &RawRoute, key: &dyn Fn(&str) -> String, p: &mut Collector) -> PathMatch {
    let set: Vec<_> = [
        ("prefix", &raw.prefix),
        ("path", &raw.path),
        ("regex", &raw.regex),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| (name, v)))
    .collect();
    match set.as_slice() {
        [] => PathMatch::Any,
        [(name, v)] => {
            let needs_slash = *name != "regex" && !v.value.starts_with('/');
            if needs_slash {
                p.add(key(name), Some(&v.origin), "must start with `/`");
            }
            match *name {
                "prefix" => PathMatch::Prefix(v.value.clone()),
                "path" => PathMatch::Exact(v.value.clone()),
                _ => match regex::Regex::new(&format!("^(?:{})$", v.value)) {
                    Ok(re) => PathMatch::Regex(re),
                    Err(e) => {
                        p.add(
                            key(name),
                            Some(&v.origin),
                            format!("is not a valid regex: {e}"),
                        );
                        PathMatch::Any
                    }
                },
            }
        }
        [(first, _), (second, v), ..] => {
            p.add(
                key(second),
                Some(&v.origin),
                format!("set only one of `prefix`, `path` and `regex` (`{first}` is set too)"),
            );
            PathMatch::Any
        }
    }
}

fn custom_ca(raw: &RawRoute, key: &dyn Fn(&str) -> String, p: &mut Collector) -> Option<Vec<u8>> {
    let (field, pem, origin) = match (&raw.tls_custom_ca, &raw.tls_custom_ca_file) {
        (Some(a), Some(_)) => {
            p.add(
                key("tls_custom_ca"),
                Some(&a.origin),
                "set only one of `tls_custom_ca` and `tls_custom_ca_file`",
            );
            return None;
        }
        (Some(a), None) => ("tls_custom_ca", pem_text(&a.value), &a.origin),
        (None, Some(f)) => match std::fs::read(&f.value) {
            Ok(bytes) => ("tls_custom_ca_file", bytes, &f.origin),
            Err(e) => {
                p.add(
                    key("tls_custom_ca_file"),
                    Some(&f.origin),
                    format!("cannot read {:?}: {e}", f.value),
                );
                return None;
            }
        },
        (None, None) => return None,
    };
    match check_certificates(&pem) {
        Ok(_) => Some(pem),
        Err(m) => {
            p.add(key(field), Some(origin), m);
            None
        }
    }
}

/// Header names must be RFC 9110 tokens.
pub(crate) fn check_header_names<'a>(
    names: impl Iterator<Item = &'a String>,
    key: &str,
    origin: &Origin,
    p: &mut Collector,
) {
    for name in names {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            p.add(
                key,
                Some(origin),
                format!("{name:?} is not a valid header name"),
            );
        }
    }
}

/// A stable id for routes without one: the same route gets the same id after a reload.
fn derived_id(from: &Url, path: &PathMatch) -> String {
    let rule = match path {
        PathMatch::Any => String::new(),
        PathMatch::Prefix(p) => format!("prefix:{p}"),
        PathMatch::Exact(p) => format!("path:{p}"),
        PathMatch::Regex(r) => format!("regex:{}", r.as_str()),
    };
    // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
    let hash = format!("{from}|{rule}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("route-{hash:016x}")
}
