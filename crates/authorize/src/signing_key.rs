//! The key that signs identity JWTs, and the JWKS document that publishes its public half.
//!
//! With `signing_key` unset, every replica derives the same P-256 key from `shared_secret`
//! (HKDF-SHA256), so any replica's token verifies against any replica's JWKS.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

/// A private key for identity JWTs, with its `kid` (RFC 7638 thumbprint) and public JWK.
pub struct SigningKey {
    encoding: EncodingKey,
    algorithm: Algorithm,
    kid: String,
    jwk: Jwk,
}

/// `signing_key` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The PEM holds neither a P-256 EC key (PKCS#8 or SEC1) nor an RSA key.
    #[error(
        "signing_key must be a P-256 EC private key (PKCS#8 or SEC1 PEM) or an RSA private key"
    )]
    Unsupported,
    /// The key parsed but its public half could not be derived.
    #[error("signing_key: cannot derive the public key: {0}")]
    Public(#[source] jsonwebtoken::errors::Error),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

// === impl SigningKey ===

impl SigningKey {
    /// Loads a PEM private key: P-256 (`BEGIN PRIVATE KEY` or `BEGIN EC PRIVATE KEY`) → ES256,
    /// RSA (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`) → RS256.
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, SigningKeyError> {
        let text = std::str::from_utf8(pem).map_err(|_| SigningKeyError::Unsupported)?;
        let ec = p256::SecretKey::from_pkcs8_pem(text)
            .ok()
            .or_else(|| p256::SecretKey::from_sec1_pem(text).ok());
        if let Some(secret) = ec {
            return SigningKey::from_p256(&secret);
        }
        let rsa = EncodingKey::from_rsa_pem(pem).map_err(|_| SigningKeyError::Unsupported)?;
        SigningKey::new(rsa, Algorithm::RS256)
    }

    /// Derives the P-256 key every replica sharing `shared_secret` derives.
    pub fn derive(shared_secret: &[u8; 32]) -> SigningKey {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"portcullis");
        let prk = salt.extract(shared_secret);
        for counter in 0u8.. {
            let info = [b"identity-jwt-signing-key".as_slice(), &[counter]];
            let mut scalar = [0u8; 32];
            prk.expand(&info, ring::hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut scalar))
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            // A scalar of zero or ≥ the group order (probability ~2⁻³²) takes the next counter.
            if let Ok(secret) = p256::SecretKey::from_slice(&scalar) {
                return SigningKey::from_p256(&secret).expect("a derived P-256 key is valid");
            }
        }
        unreachable!("256 HKDF outputs were all outside the P-256 scalar range")
    }

    fn from_p256(secret: &p256::SecretKey) -> Result<SigningKey, SigningKeyError> {
        let der = secret
            .to_pkcs8_der()
            .map_err(|_| SigningKeyError::Unsupported)?;
        SigningKey::new(EncodingKey::from_ec_der(der.as_bytes()), Algorithm::ES256)
    }

    fn new(encoding: EncodingKey, algorithm: Algorithm) -> Result<SigningKey, SigningKeyError> {
        let mut jwk =
            Jwk::from_encoding_key(&encoding, algorithm).map_err(SigningKeyError::Public)?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(SigningKeyError::Public)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match algorithm {
            Algorithm::RS256 => KeyAlgorithm::RS256,
            _ => KeyAlgorithm::ES256,
        });
        Ok(SigningKey {
            encoding,
            algorithm,
            kid,
            jwk,
        })
    }

    /// `ES256` or `RS256`.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The RFC 7638 thumbprint, used as `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The JWKS document served at `/.well-known/portcullis/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_agree_between_replicas_and_differ_between_secrets() {
        let a = SigningKey::derive(&[1; 32]);
        let b = SigningKey::derive(&[1; 32]);
        let c = SigningKey::derive(&[2; 32]);
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), c.kid());
        assert_eq!(a.algorithm(), Algorithm::ES256);
        let jwks = serde_json::to_value(a.jwks()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["kid"], a.kid());
        assert!(
            key.get("d").is_none(),
            "the private part must not be published: {key}"
        );
    }

    #[test]
    fn sec1_and_pkcs8_pem_load_as_the_same_key() {
        let secret = p256::SecretKey::from_slice(&[7; 32]).unwrap();
        let sec1 = secret.to_sec1_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let pkcs8 = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let a = SigningKey::from_pem(sec1.as_bytes()).unwrap();
        let b = SigningKey::from_pem(pkcs8.as_bytes()).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert!(
            SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
        assert!(
            !format!("{a:?}").contains("encoding"),
            "Debug must not print key material"
        );
    }
}
