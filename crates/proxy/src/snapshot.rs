//! The compiled configuration the proxy serves from: routes with their upstream pools, the
//! keys of the portcullis endpoints, and the header rules. Immutable; [`crate::Proxy::reload`]
//! builds a new one and swaps it in whole.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use portcullis_config::Config;
use portcullis_grpc::{HandoffCodec, SessionCookie, SessionHandleCodec, UrlSigner};
use url::Url;

use crate::ProxyError;
use crate::endpoints::csrf::CsrfKey;
use crate::headers::Credentials;
use crate::routes::{RouteTable, header_pair};
use crate::upstream::SharedClients;

/// One configuration, compiled.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The routes, indexed by host.
    pub(crate) routes: RouteTable,
    /// What must never reach upstreams.
    pub(crate) credentials: Credentials,
    /// The session cookie's `Set-Cookie` values.
    pub(crate) cookie: SessionCookie,
    /// Opens login handoffs (`shared_secret`).
    pub(crate) handoff: HandoffCodec,
    /// Signs URLs to authenticate (`shared_secret`).
    pub(crate) signer: UrlSigner,
    /// Opens session handles (`cookie_secret`).
    pub(crate) sessions: SessionHandleCodec,
    /// Sign-out CSRF tokens (`cookie_secret`).
    pub(crate) csrf: CsrfKey,
    /// `authenticate_service_url`.
    pub(crate) authenticate_url: Url,
    /// Global `set_response_headers`.
    pub(crate) response_headers: Vec<(HeaderName, HeaderValue)>,
    /// `forward_auth_trusted_addresses`.
    pub(crate) trusted_forwarders: Vec<ipnet::IpNet>,
    /// `timeout_read`: how long a client may take to send request headers.
    pub(crate) read_timeout: Duration,
}

// === impl Snapshot ===

impl Snapshot {
    /// Compiles `config`; HTTPS upstream pools are new, plain ones come from `clients`.
    pub(crate) fn new(config: &Config, clients: &SharedClients) -> Result<Snapshot, ProxyError> {
        let authenticate_url = config
            .authenticate_service_url
            .clone()
            .ok_or(ProxyError::NoAuthenticateUrl)?;
        let response_headers = config
            .set_response_headers
            .iter()
            .map(|(name, value)| header_pair("global", name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let shared = config.shared_secret.expose();
        let cookie_secret = config.cookie.secret.expose();
        Ok(Snapshot {
            routes: RouteTable::new(&config.routes, clients)?,
            credentials: Credentials {
                cookie_name: config.cookie.name.clone(),
                claim_headers: config
                    .jwt_claims_headers
                    .keys()
                    .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                    .collect(),
            },
            cookie: SessionCookie::new(&config.cookie),
            handoff: HandoffCodec::new(shared),
            signer: UrlSigner::new(shared),
            sessions: SessionHandleCodec::new(cookie_secret),
            csrf: CsrfKey::new(cookie_secret),
            authenticate_url,
            response_headers,
            trusted_forwarders: config.forward_auth_trusted_addresses.clone(),
            read_timeout: config.timeouts.read,
        })
    }

    /// True when `host`/`port` name the authenticate service (all-in-one dispatch).
    pub(crate) fn is_authenticate_host(&self, host: &str, port: Option<u16>) -> bool {
        let url = &self.authenticate_url;
        url.host_str()
            .is_some_and(|h| h.trim_end_matches('.').eq_ignore_ascii_case(host))
            && match port {
                Some(p) => Some(p) == url.port_or_known_default(),
                None => url.port().is_none(),
            }
    }
}
