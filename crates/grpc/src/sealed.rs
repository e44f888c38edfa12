//! Authenticated encryption for small values handed through browsers: AES-256-GCM under a key
//! derived (HKDF-SHA256) from a cluster secret and a *label*, so a value sealed for one use
//! (a session handle, a login handoff, an OIDC `state`) never opens as another. Output is
//! unpadded base64url: `nonce[12] ‖ ciphertext ‖ tag[16]`, safe in URLs and cookies.
//!
//! Sealed values optionally carry an expiry inside the ciphertext ([`Sealer::seal_until`]);
//! [`Sealer::open_at`] refuses them after it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};

/// Longest token accepted.
const MAX_TOKEN: usize = 8 * 1024;

/// Seals and opens values under one (secret, label) key. The key never prints.
pub struct Sealer {
    key: LessSafeKey,
    label: &'static str,
    rng: SystemRandom,
}

/// A token did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealedError {
    /// Not base64url, too short or too long.
    #[error("the token is malformed")]
    Malformed,
    /// The tag does not verify: changed, sealed for another use or under another secret.
    #[error("the token does not verify")]
    Invalid,
    /// Past the expiry sealed inside it.
    #[error("the token has expired")]
    Expired,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({:?}, [redacted])", self.label)
    }
}

// === impl Sealer ===

impl Sealer {
    /// A sealer whose key is HKDF(`secret`, `label`).
    pub fn new(secret: &[u8; 32], label: &'static str) -> Sealer {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"portcullis");
        let prk = salt.extract(secret);
        let mut key = [0u8; 32];
        prk.expand(&[label.as_bytes()], ring::hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut key))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let key = UnboundKey::new(&AES_256_GCM, &key).expect("AES-256 takes a 32-byte key");
        Sealer {
            key: LessSafeKey::new(key),
            label,
            rng: SystemRandom::new(),
        }
    }

    /// Seals `plain` (no expiry).
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the operating system's random number generator failed");
        let mut data = Vec::with_capacity(NONCE_LEN + plain.len() + 16);
        data.extend_from_slice(&nonce);
        data.extend_from_slice(plain);
        let (_, body) = data.split_at_mut(NONCE_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.label.as_bytes()),
                body,
            )
            .expect("AES-GCM seals any message shorter than 64 GiB");
        data.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(data)
    }

    /// Opens a token made by [`Sealer::seal`] with the same secret and label.
    pub fn open(&self, token: &str) -> Result<Vec<u8>, SealedError> {
        if token.len() > MAX_TOKEN {
            return Err(SealedError::Malformed);
        }
        let mut data = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| SealedError::Malformed)?;
        if data.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealedError::Malformed);
        }
        let (nonce, sealed) = data.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealedError::Malformed)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(self.label.as_bytes()), sealed)
            .map_err(|_| SealedError::Invalid)?;
        Ok(plain.to_vec())
    }

    /// Seals `plain` valid until `now + valid_for`.
    pub fn seal_until(&self, plain: &[u8], now: SystemTime, valid_for: Duration) -> String {
        let expiry = unix(now).saturating_add(valid_for.as_secs());
        let mut data = Vec::with_capacity(8 + plain.len());
        data.extend_from_slice(&expiry.to_be_bytes());
        data.extend_from_slice(plain);
        self.seal(&data)
    }

    /// Opens a token made by [`Sealer::seal_until`], refusing it after its expiry.
    pub fn open_at(&self, token: &str, now: SystemTime) -> Result<Vec<u8>, SealedError> {
        let data = self.open(token)?;
        let (expiry, plain) = data.split_at_checked(8).ok_or(SealedError::Invalid)?;
        let expiry = u64::from_be_bytes(expiry.try_into().map_err(|_| SealedError::Invalid)?);
        if unix(now) > expiry {
            return Err(SealedError::Expired);
        }
        Ok(plain.to_vec())
    }
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_open_only_with_the_same_secret_label_and_in_time() {
        let now = SystemTime::now();
        let a = Sealer::new(&[1; 32], "a");
        let token = a.seal_until(b"hello", now, Duration::from_secs(60));
        assert_eq!(a.open_at(&token, now).unwrap(), b"hello");
        assert_eq!(
            a.open_at(&token, now + Duration::from_secs(120)),
            Err(SealedError::Expired)
        );
        assert_eq!(
            Sealer::new(&[1; 32], "b").open_at(&token, now),
            Err(SealedError::Invalid)
        );
        assert_eq!(
            Sealer::new(&[2; 32], "a").open_at(&token, now),
            Err(SealedError::Invalid)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[NONCE_LEN] ^= 1;
        assert_eq!(
            a.open(&URL_SAFE_NO_PAD.encode(&bytes)),
            Err(SealedError::Invalid)
        );
        assert_eq!(a.open("!!"), Err(SealedError::Malformed));
        assert!(!format!("{a:?}").contains('1'));
    }
}
