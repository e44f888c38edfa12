//! Client channels to other roles.
//!
//! Today: one lazily connected channel per service URL (h2c for `http://`).
//! DNS-balanced channels (design §7) grow here behind the same constructor.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// Why a channel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The service URL is not a valid `http://` URI.
    #[error("invalid service url {url:?}: {source}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What tonic objected to.
        #[source]
        source: tonic::transport::Error,
    },
    /// `https://` needs TLS, which arrives with the TLS issue.
    #[error("service url {0:?}: https is not supported yet")]
    TlsUnsupported(String),
}

/// A channel to `url` that connects on first use and reconnects after
/// failures. Calls fail with `UNAVAILABLE` while the peer cannot be reached.
pub fn connect_lazy(url: &str) -> Result<Channel, ChannelError> {
    if url.starts_with("https://") {
        return Err(ChannelError::TlsUnsupported(url.to_owned()));
    }
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|source| ChannelError::InvalidUrl {
            url: url.to_owned(),
            source,
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}
