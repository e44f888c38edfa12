//! Sign-out CSRF tokens: HMAC-SHA256 of the session token (or of nothing, when signed out)
//! under a key derived from `cookie_secret` (HKDF, label `sign-out-csrf`). A cross-site page
//! can neither read the token (same-origin policy) nor compute it; checking is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// Makes and checks sign-out CSRF tokens.
pub(crate) struct CsrfKey {
    key: hmac::Key,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([redacted])")
    }
}

// === impl CsrfKey ===

impl CsrfKey {
    /// The key for `cookie_secret`.
    pub(crate) fn new(cookie_secret: &[u8; 32]) -> CsrfKey {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"portcullis");
        let prk = salt.extract(cookie_secret);
        let info = [b"sign-out-csrf".as_slice()];
        let okm = prk
            .expand(&info, hmac::HMAC_SHA256)
            .expect("HMAC-SHA256 key length is a valid HKDF output length");
        CsrfKey {
            key: hmac::Key::from(okm),
        }
    }

    /// The token for a client holding `session` (`""` when it holds none).
    pub(crate) fn token(&self, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, session.as_bytes()))
    }

    /// True when `submitted` is the token for `session`.
    pub(crate) fn verify(&self, session: &str, submitted: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(submitted)
            .is_ok_and(|tag| hmac::verify(&self.key, session.as_bytes(), &tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_session_and_the_secret() {
        let key = CsrfKey::new(&[1; 32]);
        let token = key.token("session-a");
        assert!(key.verify("session-a", &token));
        assert!(!key.verify("session-b", &token));
        assert!(!CsrfKey::new(&[2; 32]).verify("session-a", &token));
        assert!(!key.verify("session-a", "garbage!"));
        assert!(!key.verify("session-a", ""));
        assert!(key.verify("", &key.token("")));
    }
}
