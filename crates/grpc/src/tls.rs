//! TLS between roles (design §7): what a client trusts when a service URL is `https://`.
//!
//! A client verifies the peer's certificate against the operating system's roots plus the
//! configured `certificate_authority`, for the *URL's* host name: the balancer connects to
//! each address DNS returns, but the name it sends (SNI) and checks is always the host
//! written in the URL, so one certificate for `authorize.internal` serves every replica.
//! The server side is a rustls `ServerConfig` handed to [`crate::serve_with`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tonic::transport::ClientTlsConfig;

/// How long a TLS handshake with a peer may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a trust configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `certificate_authority` holds no usable certificate (not PEM, or not a CA
    /// certificate rustls can use as a root).
    #[error("certificate_authority: {0}")]
    CertificateAuthority(String),
}

/// The roots a client trusts for `https://` peers. Cheap to clone.
#[derive(Clone)]
pub struct PeerTls {
    roots: Arc<RootCertStore>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("roots", &self.roots.len())
            .finish()
    }
}

impl Default for PeerTls {
    /// The system's roots only.
    fn default() -> Self {
        PeerTls {
            roots: system_roots(),
        }
    }
}

// === impl PeerTls ===

impl PeerTls {
    /// The system's roots plus every certificate in `pem` (`certificate_authority`).
    pub fn with_certificate_authority(pem: &[u8]) -> Result<PeerTls, TlsError> {
        let bad = |m: String| TlsError::CertificateAuthority(m);
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("invalid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad("no certificate in the PEM".into()));
        }
        let mut roots = (*system_roots()).clone();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| bad(format!("unusable certificate: {e}")))?;
        }
        Ok(PeerTls {
            roots: Arc::new(roots),
        })
    }

    /// The trust of a configuration: `certificate_authority` (already checked when the
    /// configuration loaded) on top of the system's roots.
    pub fn from_config(config: &portcullis_config::Config) -> Result<PeerTls, TlsError> {
        match &config.certificate_authority {
            Some(pem) => PeerTls::with_certificate_authority(pem),
            None => Ok(PeerTls::default()),
        }
    }

    /// tonic's client settings for a peer whose URL names `host`: SNI and verification for
    /// `host` whatever address the connection goes to; ALPN `h2`.
    pub(crate) fn client_config(&self, host: &str) -> ClientTlsConfig {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ClientTlsConfig::new()
            .domain_name(host)
            .trust_anchors(self.roots.roots.iter().cloned())
            .timeout(HANDSHAKE_TIMEOUT)
    }
}

/// The operating system's trusted roots, read once per process.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!(%error, "reading the system's trusted certificates");
        }
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(found.certs);
        Arc::new(roots)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_authority_must_hold_a_certificate() {
        let err = PeerTls::with_certificate_authority(b"not pem").unwrap_err();
        assert!(
            err.to_string().starts_with("certificate_authority:"),
            "{err}"
        );
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(PeerTls::with_certificate_authority(garbage).is_err());
    }
}
