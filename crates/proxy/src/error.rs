//! Errors of building and serving the proxy. Request-time failures are not errors of this
//! kind: they become responses in [`crate::rescue`].

/// The proxy could not be built or could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A `certificates` entry (by index) could not be used: PEM that holds no certificate or
    /// no private key, or a key type rustls does not support.
    #[error("certificates[{index}]: {reason}")]
    Certificate {
        /// Position in `certificates`.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The listener needs TLS but `certificates` is empty and `insecure_server` is off.
    #[error(
        "no certificates configured: set `certificates` (or `certificate_file`) or `insecure_server: true`"
    )]
    NoCertificates,
    /// A route's upstream TLS settings are unusable (bad custom CA, client certificate or
    /// `tls_server_name`). Names the route id.
    #[error("route {route}: {reason}")]
    UpstreamTls {
        /// The route id.
        route: String,
        /// What is wrong.
        reason: String,
    },
    /// A route's header settings hold a value that is not a valid HTTP header value.
    #[error("route {route}: header {name:?} has a value that is not a valid HTTP header value")]
    HeaderValue {
        /// The route id (or `global` for top-level `set_response_headers`).
        route: String,
        /// The header name.
        name: String,
    },
    /// `authenticate_service_url` is missing: the proxy needs it for sign-in and sign-out.
    #[error("authenticate_service_url is required for the proxy")]
    NoAuthenticateUrl,
    /// Accepting connections failed for good (the listener broke).
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}
