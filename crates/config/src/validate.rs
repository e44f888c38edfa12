//! Raw values → typed [`Config`], collecting every problem with its key.

use std::net::SocketAddr;
use std::time::Duration;

use portcullis_yaml::Node;
use url::Url;

use crate::config::{Config, CookieOptions, LogFormat, LogLevel, SameSite, Services, Timeouts};
use crate::problem::Collector;
use crate::raw::{RawConfig, RawRoute, Spanned};
use crate::route::{RouteDefaults, check_header_names, validate_route};
use crate::secret::Secret;
use crate::values::{parse_duration, parse_listen_address};

mod secrets;

use secrets::{
    certificate_authority, certificates, claims_headers, idp, key32, signing_key, storage,
};

/// A route as read: its raw keys, its `policy` node, and where the route starts.
pub(crate) struct RawRouteEntry {
    pub(crate) raw: RawRoute,
    pub(crate) policy: Option<Node>,
    pub(crate) origin: portcullis_yaml::Origin,
}

/// Produces a fresh random 32-byte key for all-in-one processes without configured secrets.
pub(crate) type KeySource<'a> = &'a mut dyn FnMut() -> [u8; 32];

pub(crate) fn validate(
    raw: &RawConfig,
    routes: Vec<RawRouteEntry>,
    random_key: KeySource<'_>,
    p: &mut Collector,
) -> Option<Config> {
    let services = services(raw, p);
    let authenticate_service_url =
        url(&raw.authenticate_service_url, "authenticate_service_url", p);
    if (services.proxy || services.authenticate) && raw.authenticate_service_url.is_none() {
        p.add(
            "authenticate_service_url",
            None,
            "is required when the proxy or authenticate role runs (the public URL of the sign-in pages)",
        );
    }
    let split = !services.is_all();

    let shared_secret = key32(
        &raw.shared_secret,
        &raw.shared_secret_file,
        "shared_secret",
        p,
    );
    if shared_secret.is_none()
        && split
        && raw.shared_secret.is_none()
        && raw.shared_secret_file.is_none()
    {
        p.add(
            "shared_secret",
            None,
            "is required when roles run as separate processes (generate one with `portcullis gen-secret`)",
        );
    }
    let cookie_secret = key32(
        &raw.cookie_secret,
        &raw.cookie_secret_file,
        "cookie_secret",
        p,
    );
    let needs_cookie_secret = services.proxy || services.authenticate;
    if cookie_secret.is_none()
        && split
        && needs_cookie_secret
        && raw.cookie_secret.is_none()
        && raw.cookie_secret_file.is_none()
    {
        p.add(
            "cookie_secret",
            None,
            "is required when the proxy or authenticate role runs as a separate process",
        );
    }

    let cookie = CookieOptions {
        name: text(&raw.cookie_name).unwrap_or_else(|| "_portcullis".to_owned()),
        secret_generated: cookie_secret.is_none(),
        secret: cookie_secret.unwrap_or_else(|| Secret::new(random_key())),
        expire: dur(&raw.cookie_expire, "cookie_expire", p)
            .unwrap_or(Duration::from_secs(14 * 3600)),
        domain: text(&raw.cookie_domain),
        same_site: same_site(&raw.cookie_same_site, p),
        http_only: raw.cookie_http_only.as_ref().is_none_or(|s| s.value),
        secure: raw.cookie_secure.as_ref().is_none_or(|s| s.value),
    };
    if cookie.same_site == SameSite::None && !cookie.secure {
        p.add(
            "cookie_same_site",
            raw.cookie_same_site.as_ref().map(|s| &s.origin),
            "`none` requires `cookie_secure: true`",
        );
    }

    let timeouts = Timeouts {
        default_upstream: dur(&raw.default_upstream_timeout, "default_upstream_timeout", p)
            .unwrap_or(Duration::from_secs(30)),
        read: dur(&raw.timeout_read, "timeout_read", p).unwrap_or(Duration::from_secs(30)),
        write: dur(&raw.timeout_write, "timeout_write", p).unwrap_or(Duration::ZERO),
        idle: dur(&raw.timeout_idle, "timeout_idle", p).unwrap_or(Duration::from_secs(300)),
    };
    let pass_identity_headers = raw.pass_identity_headers.as_ref().is_some_and(|s| s.value);
    let defaults = RouteDefaults {
        pass_identity_headers,
        timeout: timeouts.default_upstream,
    };
    let mut validated_routes = Vec::with_capacity(routes.len());
    for (i, entry) in routes.into_iter().enumerate() {
        if let Some(route) = validate_route(
            i,
            entry.raw,
            entry.policy.as_ref(),
            &entry.origin,
            &defaults,
            p,
        ) {
            if let Some(first) = validated_routes
                .iter()
                .position(|r: &crate::Route| r.id == route.id)
            {
                p.add(
                    format!("routes[{i}].id"),
                    Some(&entry.origin),
                    format!("{:?} is already the id of routes[{first}]", route.id),
                );
            }
            validated_routes.push(route);
        }
    }

    let config = Config {
        services,
        address: addr(&raw.address, "address", p).unwrap_or_else(|| fallback_addr(443)),
        grpc_address: addr(&raw.grpc_address, "grpc_address", p)
            .unwrap_or_else(|| fallback_addr(5443)),
        http_redirect_addr: addr(&raw.http_redirect_addr, "http_redirect_addr", p),
        metrics_address: addr(&raw.metrics_address, "metrics_address", p),
        metrics_basic_auth: secrets::metrics_basic_auth(raw, p),
        show_error_details: raw.show_error_details.as_ref().is_some_and(|s| s.value),
        insecure_server: raw.insecure_server.as_ref().is_some_and(|s| s.value),
        // Pomerium's default: plain in all-in-one (nothing leaves the process), TLS in split mode.
        grpc_insecure: raw
            .grpc_insecure
            .as_ref()
            .map_or(services.is_all(), |s| s.value),
        authenticate_service_url,
        authenticate_internal_service_url: url(
            &raw.authenticate_internal_service_url,
            "authenticate_internal_service_url",
            p,
        ),
        // Pomerium's `authorize_internal_service_url`: how other roles reach authorize when
        // the public URL differs; it wins over `authorize_service_url(s)`.
        authorize_service_urls: match url(
            &raw.authorize_internal_service_url,
            "authorize_internal_service_url",
            p,
        ) {
            Some(internal) => vec![internal],
            None => urls(
                &raw.authorize_service_url,
                &raw.authorize_service_urls,
                "authorize_service_url",
                p,
            ),
        },
        databroker_service_urls: urls(
            &raw.databroker_service_url,
            &raw.databroker_service_urls,
            "databroker_service_url",
            p,
        ),
        shared_secret_generated: shared_secret.is_none(),
        shared_secret: shared_secret.unwrap_or_else(|| Secret::new(random_key())),
        cookie,
        signing_key: signing_key(raw, p),
        idp: idp(raw, services.authenticate, p),
        databroker_storage: storage(raw, p),
        certificates: certificates(raw, p),
        certificate_authority: certificate_authority(raw, p),
        jwt_claims_headers: claims_headers(raw, p),
        pass_identity_headers,
        set_response_headers: raw
            .set_response_headers
            .as_ref()
            .map(|s| {
                check_header_names(s.value.keys(), "set_response_headers", &s.origin, p);
                s.value.clone()
            })
            .unwrap_or_default(),
        dns_refresh_rate: dur(&raw.dns_refresh_rate, "dns_refresh_rate", p)
            .unwrap_or(Duration::from_secs(5)),
        dns_resolvers: dns_resolvers(raw, p),
        log_level: log_level(raw, p),
        log_format: log_format(raw, p),
        timeouts,
        signout_redirect_url: url(&raw.signout_redirect_url, "signout_redirect_url", p),
        forward_auth_trusted_addresses: trusted_addresses(raw, p),
        routes: validated_routes,
    };
    if split
        && config.services.proxy
        && !config.services.authorize
        && config.authorize_service_urls.is_empty()
    {
        p.add(
            "authorize_service_url",
            None,
            "is required when the proxy runs without the authorize role",
        );
    }
    if let Some(explicit) = &raw.grpc_insecure
        && !explicit.value
        && (config.services.authorize || config.services.databroker)
        && config.certificates.is_empty()
    {
        p.add(
            "grpc_insecure",
            Some(&explicit.origin),
            "`false` needs `certificates` or `certificate_file` for the gRPC listener's TLS",
        );
    }
    let needs_databroker =
        config.services.authorize || config.services.authenticate || config.services.proxy;
    if split
        && needs_databroker
        && !config.services.databroker
        && config.databroker_service_urls.is_empty()
    {
        p.add(
            "databroker_service_url",
            None,
            "is required when roles run without the databroker role",
        );
    }
    p.problems.is_empty().then_some(config)
}

fn fallback_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

fn text(v: &Option<Spanned<String>>) -> Option<String> {
    v.as_ref().map(|s| s.value.clone())
}

fn dur(v: &Option<Spanned<String>>, key: &str, p: &mut Collector) -> Option<Duration> {
    let s = v.as_ref()?;
    parse_duration(&s.value)
        .map_err(|m| p.add(key, Some(&s.origin), m))
        .ok()
}

fn addr(v: &Option<Spanned<String>>, key: &str, p: &mut Collector) -> Option<SocketAddr> {
    let s = v.as_ref()?;
    parse_listen_address(&s.value)
        .map_err(|m| p.add(key, Some(&s.origin), m))
        .ok()
}

fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    Ok(url)
}

fn url(v: &Option<Spanned<String>>, key: &str, p: &mut Collector) -> Option<Url> {
    let s = v.as_ref()?;
    parse_url(&s.value)
        .map_err(|m| p.add(key, Some(&s.origin), m))
        .ok()
}

/// `foo_service_url` and `foo_service_urls` together.
fn urls(
    one: &Option<Spanned<String>>,
    many: &Option<Spanned<crate::raw::StringList>>,
    key: &str,
    p: &mut Collector,
) -> Vec<Url> {
    let mut out: Vec<Url> = url(one, key, p).into_iter().collect();
    if let Some(list) = many {
        for item in &list.value.0 {
            match parse_url(item) {
                Ok(u) => out.push(u),
                Err(m) => p.add(format!("{key}s"), Some(&list.origin), m),
            }
        }
    }
    out
}

fn services(raw: &RawConfig, p: &mut Collector) -> Services {
    let Some(list) = &raw.services else {
        return Services::ALL;
    };
    let mut s = Services {
        proxy: false,
        authorize: false,
        authenticate: false,
        databroker: false,
    };
    for name in &list.value.0 {
        match name.as_str() {
            "all" => s = Services::ALL,
            "proxy" => s.proxy = true,
            "authorize" => s.authorize = true,
            "authenticate" => s.authenticate = true,
            "databroker" => s.databroker = true,
            other => p.add("services", Some(&list.origin), format!("{other:?} is not a role (expected all, proxy, authorize, authenticate or databroker)")),
        }
    }
    if list.value.0.is_empty() {
        p.add("services", Some(&list.origin), "names no role");
    }
    s
}

fn same_site(v: &Option<Spanned<String>>, p: &mut Collector) -> SameSite {
    let Some(s) = v else { return SameSite::Lax };
    match s.value.to_ascii_lowercase().as_str() {
        "lax" | "" => SameSite::Lax,
        "strict" => SameSite::Strict,
        "none" => SameSite::None,
        other => {
            p.add(
                "cookie_same_site",
                Some(&s.origin),
                format!("{other:?} is not lax, strict or none"),
            );
            SameSite::Lax
        }
    }
}

fn dns_resolvers(raw: &RawConfig, p: &mut Collector) -> Vec<SocketAddr> {
    let Some(list) = &raw.dns_resolvers else {
        return Vec::new();
    };
    list.value
        .0
        .iter()
        .filter_map(|r| {
            let parsed = r.parse::<SocketAddr>().ok().or_else(|| {
                r.parse::<std::net::IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, 53))
            });
            if parsed.is_none() {
                p.add(
                    "dns_resolvers",
                    Some(&list.origin),
                    format!("{r:?} is not an IP address or IP:port"),
                );
            }
            parsed
        })
        .collect()
}

fn trusted_addresses(raw: &RawConfig, p: &mut Collector) -> Vec<ipnet::IpNet> {
    let Some(list) = &raw.forward_auth_trusted_addresses else {
        return Vec::new();
    };
    list.value
        .0
        .iter()
        .filter_map(|a| {
            let parsed = a
                .parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| a.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
            if parsed.is_none() {
                p.add(
                    "forward_auth_trusted_addresses",
                    Some(&list.origin),
                    format!("{a:?} is not an IP address or CIDR range"),
                );
            }
            parsed
        })
        .collect()
}

fn log_level(raw: &RawConfig, p: &mut Collector) -> LogLevel {
    let Some(s) = &raw.log_level else {
        return LogLevel::Info;
    };
    match s.value.to_ascii_lowercase().as_str() {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" | "warning" => LogLevel::Warn,
        "error" | "fatal" | "panic" => LogLevel::Error,
        other => {
            p.add(
                "log_level",
                Some(&s.origin),
                format!("{other:?} is not trace, debug, info, warn or error"),
            );
            LogLevel::Info
        }
    }
}

fn log_format(raw: &RawConfig, p: &mut Collector) -> Option<LogFormat> {
    let s = raw.log_format.as_ref()?;
    match s.value.as_str() {
        "json" => Some(LogFormat::Json),
        "text" | "console" => Some(LogFormat::Text),
        other => {
            p.add(
                "log_format",
                Some(&s.origin),
                format!("{other:?} is not json or text"),
            );
            None
        }
    }
}
