//! rustls client settings for a route's HTTPS upstreams: roots (`tls_custom_ca`, else the
//! system's), the client certificate (`tls_client_cert`), ALPN, and the
//! `tls_skip_verify` door (named [`SkipVerify`]: it still checks handshake signatures, but
//! trusts any certificate).

use std::sync::{Arc, OnceLock};

use portcullis_config::Route;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The client configuration for `route`'s HTTPS upstreams.
pub(super) fn client_config(route: &Route) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if route.dangerous_tls_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(
                provider.signature_verification_algorithms,
            )))
    } else {
        let roots = match &route.tls_custom_ca {
            Some(pem) => Arc::new(custom_roots(pem)?),
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match &route.tls_client_certificate {
        None => builder.with_no_client_auth(),
        Some(pair) => {
            let certs =
                certificates(&pair.cert_pem).map_err(|e| format!("tls_client_cert: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(pair.key_pem.expose())
                .map_err(|e| format!("tls_client_key: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("tls_client_cert: {e}"))?
        }
    };
    // Upgrades (websockets) need HTTP/1.1 all the way.
    config.alpn_protocols = if route.allow_websockets {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

/// A client configuration trusting the system's roots plus `extra_ca` (PEM), ALPN `h2`
/// and `http/1.1`: for peers of the cluster (the authenticate replicas).
pub(crate) fn peer_client_config(extra_ca: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = (*system_roots()).clone();
    if let Some(pem) = extra_ca {
        for cert in certificates(pem).map_err(|e| format!("certificate_authority: {e}"))? {
            roots
                .add(cert)
                .map_err(|e| format!("certificate_authority: unusable certificate: {e}"))?;
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in `pem`.
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the PEM".into());
    }
    Ok(certs)
}

fn custom_roots(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem).map_err(|e| format!("tls_custom_ca: {e}"))? {
        roots
            .add(cert)
            .map_err(|e| format!("tls_custom_ca: unusable certificate: {e}"))?;
    }
    Ok(roots)
}

/// The operating system's trusted roots, read once.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "reading the system's trusted certificates");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                ignored,
                "no system root certificates: HTTPS upstreams need tls_custom_ca"
            );
        }
        Arc::new(roots)
    }))
}

/// `tls_skip_verify`: any certificate is accepted. Dangerous; for tests and labs.
#[derive(Debug)]
struct SkipVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The provider every TLS configuration of the proxy uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
