//! The listener's TLS: rustls on ring, certificates from `certificates` chosen by SNI (the
//! first certificate valid for the name; the first one when none is, or without SNI), ALPN
//! `h2` and `http/1.1`. The certificate set can be swapped (config reload) without a new
//! `ServerConfig`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use portcullis_config::{CertificatePair, Config};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, ServerName};

use crate::ProxyError;
use crate::upstream::tls::{certificates, provider};

/// Chooses the certificate by SNI.
#[derive(Debug)]
pub(crate) struct SniResolver {
    keys: ArcSwap<Vec<Arc<CertifiedKey>>>,
}

/// The rustls server configuration for `config`'s `certificates`; `None` with
/// `insecure_server`. Fails when a certificate or key is unusable, or when there is none.
pub fn server_tls(config: &Config) -> Result<Option<Arc<ServerConfig>>, ProxyError> {
    Ok(listener_tls(config)?.map(|(config, _)| config))
}

/// The listener's TLS configuration and its certificate resolver (for reloads).
pub(crate) type ListenerTls = (Arc<ServerConfig>, Arc<SniResolver>);

/// The gRPC listener's TLS: `config`'s certificates chosen by SNI as on the proxy's
/// listener, ALPN `h2` only (whatever `insecure_server` says: `grpc_insecure` decides).
/// Fails when a certificate or key is unusable, or when there is none.
pub fn grpc_server_tls(config: &Config) -> Result<Arc<ServerConfig>, ProxyError> {
    let (mut server, _) = build(config)?;
    Arc::make_mut(&mut server).alpn_protocols = vec![b"h2".to_vec()];
    Ok(server)
}

/// [`server_tls`] with the resolver, so a reload can swap the certificates.
pub(crate) fn listener_tls(config: &Config) -> Result<Option<ListenerTls>, ProxyError> {
    if config.insecure_server {
        return Ok(None);
    }
    build(config).map(Some)
}

fn build(config: &Config) -> Result<ListenerTls, ProxyError> {
    let resolver = Arc::new(SniResolver {
        keys: ArcSwap::from_pointee(certified_keys(&config.certificates)?),
    });
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Certificate {
            index: 0,
            reason: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(server), resolver))
}

fn certified_keys(pairs: &[CertificatePair]) -> Result<Vec<Arc<CertifiedKey>>, ProxyError> {
    if pairs.is_empty() {
        return Err(ProxyError::NoCertificates);
    }
    let provider = provider();
    pairs
        .iter()
        .enumerate()
        .map(|(index, pair)| {
            let bad = |reason: String| ProxyError::Certificate { index, reason };
            let chain = certificates(&pair.cert_pem).map_err(bad)?;
            let key = PrivateKeyDer::from_pem_slice(pair.key_pem.expose())
                .map_err(|e| bad(format!("private key: {e}")))?;
            CertifiedKey::from_der(chain, key, &provider)
                .map(Arc::new)
                .map_err(|e| bad(e.to_string()))
        })
        .collect()
}

// === impl SniResolver ===

impl SniResolver {
    /// Replaces the certificates with `config`'s.
    pub(crate) fn reload(&self, config: &Config) -> Result<(), ProxyError> {
        self.keys
            .store(Arc::new(certified_keys(&config.certificates)?));
        Ok(())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let keys = self.keys.load();
        if let Some(name) = hello
            .server_name()
            .and_then(|n| ServerName::try_from(n).ok())
        {
            let valid = keys.iter().find(|key| {
                key.end_entity_cert().is_ok_and(|der| {
                    webpki::EndEntityCert::try_from(der)
                        .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
                })
            });
            if let Some(key) = valid {
                return Some(Arc::clone(key));
            }
        }
        keys.first().cloned()
    }
}
