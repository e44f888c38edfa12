//! The provider's ES256 signing key: made fresh per process, published as a JWKS, and used
//! to sign ID tokens and to check `id_token_hint`s.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::EncodePrivateKey as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::random;

/// A P-256 key with its `kid` (RFC 7638 thumbprint). `Debug` shows only the `kid`.
pub(crate) struct IdpKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    jwk: Jwk,
}

/// Signing or checking a token failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// `jsonwebtoken` refused to sign (claims that do not serialize, a broken key).
    #[error("cannot sign the token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// The token is malformed, not signed by this key, or not from this issuer.
    #[error("the token does not verify: {0}")]
    Verify(#[source] jsonwebtoken::errors::Error),
}

impl std::fmt::Debug for IdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

// === impl IdpKey ===

impl IdpKey {
    /// A new random key.
    pub(crate) fn generate() -> IdpKey {
        loop {
            // A scalar of zero or ≥ the group order (probability ~2⁻³²) is drawn again.
            if let Ok(secret) = p256::SecretKey::from_slice(&random::bytes::<32>()) {
                return IdpKey::from_secret(&secret);
            }
        }
    }

    fn from_secret(secret: &p256::SecretKey) -> IdpKey {
        let der = secret
            .to_pkcs8_der()
            .expect("a valid P-256 key encodes as PKCS#8");
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .expect("a P-256 key has a public JWK");
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("an EC JWK has a thumbprint");
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
        let decoding = DecodingKey::from_jwk(&jwk).expect("our own JWK is a decoding key");
        IdpKey {
            encoding,
            decoding,
            kid,
            jwk,
        }
    }

    /// The key id in every token header and in the JWKS.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document: the public key only.
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// `claims` as an ES256 JWT with `typ: JWT` and our `kid`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(KeyError::Sign)
    }

    /// The claims of a token this key signed for `issuer`, whatever its audience and even
    /// when expired (an `id_token_hint` is usually an old token).
    pub(crate) fn verify_ignoring_expiry<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<T, KeyError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[issuer]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(KeyError::Verify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn each_key_is_fresh_and_publishes_only_its_public_half() {
        let (a, b) = (IdpKey::generate(), IdpKey::generate());
        assert_ne!(a.kid(), b.kid());
        let jwks = serde_json::to_value(a.jwks()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], a.kid());
        assert!(key["x"].is_string() && key["y"].is_string());
        assert!(key.get("d").is_none(), "private part published: {key}");
        assert!(!format!("{a:?}").contains("encoding"));
    }

    #[test]
    fn signed_tokens_verify_with_this_key_only() {
        let (a, b) = (IdpKey::generate(), IdpKey::generate());
        let token = a
            .sign(&json!({"iss": "http://idp", "exp": 1, "sub": "x"}))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(a.kid()));
        let claims: Value = a.verify_ignoring_expiry(&token, "http://idp").unwrap();
        assert_eq!(claims["sub"], "x");
        assert!(
            b.verify_ignoring_expiry::<Value>(&token, "http://idp")
                .is_err()
        );
        assert!(
            a.verify_ignoring_expiry::<Value>(&token, "http://other")
                .is_err()
        );
        assert!(
            a.verify_ignoring_expiry::<Value>("not.a.jwt", "http://idp")
                .is_err()
        );
    }
}
