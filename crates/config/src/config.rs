//! The validated configuration: typed values only, every default applied.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use crate::route::Route;
use crate::secret::{Key32, Secret};

/// A validated configuration. Built by [`crate::load`] or [`crate::Config::from_sources`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The roles this process runs (`services`).
    pub services: Services,
    /// The public HTTP(S) listener (`address`, default `:443`).
    pub address: SocketAddr,
    /// The gRPC listener for split roles (`grpc_address`, default `:5443`).
    pub grpc_address: SocketAddr,
    /// Plain-HTTP listener that redirects to HTTPS (`http_redirect_addr`).
    pub http_redirect_addr: Option<SocketAddr>,
    /// Prometheus listener (`metrics_address`).
    pub metrics_address: Option<SocketAddr>,
    /// `metrics_basic_auth`: the `user:pass` (decoded from Pomerium's base64 form) that
    /// `/metrics` requires; `None`: no authentication.
    pub metrics_basic_auth: Option<Secret<Vec<u8>>>,
    /// `show_error_details`: deny pages list the policy reasons.
    pub show_error_details: bool,
    /// Serve plain HTTP on `address` (`insecure_server`); for use behind a TLS terminator.
    pub insecure_server: bool,
    /// Serve gRPC without TLS (`grpc_insecure`). Unset, it is true for all-in-one and false
    /// for split roles (Pomerium's defaults); the gRPC listener then serves TLS with
    /// `certificates` when any are configured, else plain h2c.
    pub grpc_insecure: bool,
    /// The public authenticate URL (`authenticate_service_url`); required for proxy and
    /// authenticate roles.
    pub authenticate_service_url: Option<Url>,
    /// How other roles reach authenticate internally, when that differs.
    pub authenticate_internal_service_url: Option<Url>,
    /// Where split roles reach authorize (`authorize_service_url(s)`).
    pub authorize_service_urls: Vec<Url>,
    /// Where split roles reach the databroker (`databroker_service_url(s)`).
    pub databroker_service_urls: Vec<Url>,
    /// Signs the JWTs between roles and derives the default signing key.
    pub shared_secret: Key32,
    /// True when `shared_secret` was not configured and a random one was made for this
    /// all-in-one process (sessions then do not survive a restart).
    pub shared_secret_generated: bool,
    /// Session cookie settings.
    pub cookie: CookieOptions,
    /// PEM private key for the identity JWT (`signing_key`); derived from `shared_secret` when
    /// unset.
    pub signing_key: Option<Secret<Vec<u8>>>,
    /// The identity provider; required for the authenticate role.
    pub idp: Option<IdpOptions>,
    /// Where the databroker keeps its records.
    pub databroker_storage: StorageOptions,
    /// TLS certificates served by the proxy, chosen by SNI.
    pub certificates: Vec<CertificatePair>,
    /// PEM roots gRPC clients trust for `https://` service URLs, in addition to the system's
    /// (`certificate_authority`, `certificate_authority_file`).
    pub certificate_authority: Option<Vec<u8>>,
    /// Identity claims copied into upstream request headers: header name → claim.
    pub jwt_claims_headers: BTreeMap<String, String>,
    /// Default for routes' `pass_identity_headers`.
    pub pass_identity_headers: bool,
    /// Response headers set on every response (`set_response_headers`).
    pub set_response_headers: BTreeMap<String, String>,
    /// How often service DNS names are re-resolved.
    pub dns_refresh_rate: Duration,
    /// DNS servers to ask instead of the system's (`dns_resolvers`).
    pub dns_resolvers: Vec<SocketAddr>,
    /// `log_level`: trace, debug, info, warn, error.
    pub log_level: LogLevel,
    /// `log_format`: json or text; `None` chooses json unless stderr is a terminal.
    pub log_format: Option<LogFormat>,
    /// Listener and upstream timeouts.
    pub timeouts: Timeouts,
    /// Where users land after signing out (`signout_redirect_url`).
    pub signout_redirect_url: Option<Url>,
    /// Peers whose `X-Forwarded-*` / `X-Original-URL` headers `/.portcullis/verify` believes
    /// (`forward_auth_trusted_addresses`); empty: forward-auth answers only for itself.
    pub forward_auth_trusted_addresses: Vec<ipnet::IpNet>,
    /// The routes, in configuration order.
    pub routes: Vec<Route>,
}

/// The roles one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    /// Data plane.
    pub proxy: bool,
    /// Policy decisions.
    pub authorize: bool,
    /// Login.
    pub authenticate: bool,
    /// Shared state.
    pub databroker: bool,
}

/// Session cookie settings.
#[derive(Debug, Clone)]
pub struct CookieOptions {
    /// `cookie_name`, default `_portcullis`.
    pub name: String,
    /// `cookie_secret`: signs and encrypts cookies.
    pub secret: Key32,
    /// True when no secret was configured and a random one was made (all-in-one only).
    pub secret_generated: bool,
    /// `cookie_expire`, default 14h.
    pub expire: Duration,
    /// `cookie_domain`.
    pub domain: Option<String>,
    /// `cookie_same_site`, default lax.
    pub same_site: SameSite,
    /// `cookie_http_only`, default true.
    pub http_only: bool,
    /// `cookie_secure`, default true.
    pub secure: bool,
}

/// The cookie `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `Lax` (default).
    Lax,
    /// `Strict`.
    Strict,
    /// `None` (requires `Secure`).
    None,
}

/// The OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct IdpOptions {
    /// `idp_provider`: `oidc` or a named OIDC provider (google, okta, auth0, ...).
    pub provider: String,
    /// `idp_provider_url`: the issuer URL.
    pub provider_url: Url,
    /// `idp_client_id`.
    pub client_id: String,
    /// `idp_client_secret`.
    pub client_secret: Secret<String>,
    /// `idp_scopes`, default `openid profile email offline_access`.
    pub scopes: Vec<String>,
}

/// Where the databroker stores records.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageOptions {
    /// In process memory: one replica, lost at restart.
    Memory,
    /// PostgreSQL, shared by every databroker replica.
    Postgres {
        /// `databroker_storage_connection_string` (holds a password: never logged).
        connection_string: Secret<String>,
    },
}

/// A certificate chain and its key, both PEM.
#[derive(Debug, Clone)]
pub struct CertificatePair {
    /// PEM certificate chain.
    pub cert_pem: Vec<u8>,
    /// PEM private key.
    pub key_pem: Secret<Vec<u8>>,
}

/// `log_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail.
    Debug,
    /// Default.
    Info,
    /// Problems only.
    Warn,
    /// Failures only.
    Error,
}

/// `log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Listener and upstream timeouts (Pomerium's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `default_upstream_timeout`, default 30s.
    pub default_upstream: Duration,
    /// `timeout_read`, default 30s.
    pub read: Duration,
    /// `timeout_write`, default 0 (none).
    pub write: Duration,
    /// `timeout_idle`, default 5m.
    pub idle: Duration,
}

// === impl Services ===

impl Services {
    /// Every role: all-in-one.
    pub const ALL: Services = Services {
        proxy: true,
        authorize: true,
        authenticate: true,
        databroker: true,
    };

    /// True when every role runs in this process.
    pub fn is_all(&self) -> bool {
        *self == Services::ALL
    }
}

// === impl LogLevel ===

impl LogLevel {
    /// The name tracing filters use.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}
