//! Unguessable tokens, the keys they are stored under, and constant-time secret comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::{digest, hmac};

/// 32 random bytes, base64url: codes, tokens, request ids.
pub(crate) fn token() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<32>())
}

/// `N` random bytes from the operating system.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

/// BASE64URL(SHA-256(`input`)): the PKCE S256 transform (RFC 7636 §4.2).
pub(crate) fn sha256_b64(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, input))
}

/// What a secret (code, token) is stored under: its SHA-256, so the maps (and anything that
/// prints them) never hold the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey([u8; 32]);

impl TokenKey {
    pub(crate) fn of(secret: &str) -> TokenKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, secret.as_bytes()).as_ref());
        TokenKey(key)
    }
}

/// Compares secrets in time independent of where (or whether) they differ: both sides are
/// MACed under a per-process key and the tags are compared inside `ring`.
pub(crate) struct SecretComparer {
    key: hmac::Key,
}

impl std::fmt::Debug for SecretComparer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretComparer")
    }
}

impl SecretComparer {
    pub(crate) fn new() -> SecretComparer {
        SecretComparer {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes::<32>()),
        }
    }

    pub(crate) fn eq(&self, expected: &[u8], given: &[u8]) -> bool {
        let tag = hmac::sign(&self.key, expected);
        hmac::verify(&self.key, given, tag.as_ref()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(TokenKey::of(&a), TokenKey::of(&b));
        assert_eq!(TokenKey::of(&a), TokenKey::of(&a.clone()));
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            sha256_b64(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        let cmp = SecretComparer::new();
        assert!(cmp.eq(b"secret", b"secret"));
        assert!(!cmp.eq(b"secret", b"secreT"));
        assert!(!cmp.eq(b"secret", b"secret2"));
        assert!(!cmp.eq(b"secret", b""));
    }
}
