//! The session handle: what the cookie (`cookie_name`), `Authorization: Bearer
//! Portcullis-<token>` and `X-Portcullis-Authorization` carry (design §4).
//!
//! A handle names a session record — session id, user id, issue time and the databroker
//! version the record was written at — and nothing else: no tokens. It is sealed with
//! AES-256-GCM under a key derived from `cookie_secret` (HKDF-SHA256, label
//! `session-handle`), with a random 96-bit nonce, and written as unpadded base64url:
//!
//! ```text
//! base64url( nonce[12] ‖ AES-256-GCM( format[1] ‖ issued_at u64 ‖ version u64 ‖
//!                                      len u16 ‖ session_id ‖ len u16 ‖ user_id ) ‖ tag[16] )
//! ```
//!
//! Opening checks the tag in constant time (inside `ring`); a handle that was changed, or
//! sealed under another secret, does not open. The databroker version lets a reader wait for
//! its replica to catch up right after login (read-your-writes) before it says "no session".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};

/// Format byte of the plaintext; bump when the layout changes.
const FORMAT: u8 = 1;
/// Binds ciphertexts to this use of the key.
const AAD: &[u8] = b"portcullis session handle";
/// Longest token accepted (ids are short; anything longer is not ours).
const MAX_TOKEN: usize = 1024;

/// What a session handle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHandle {
    /// The session record id.
    pub session_id: String,
    /// The user record id.
    pub user_id: String,
    /// When the handle was issued.
    pub issued_at: SystemTime,
    /// The databroker version the session record was written at.
    pub version: u64,
}

/// Seals and opens session handles. Cheap to share (`Sync`); the key never prints.
pub struct SessionHandleCodec {
    key: LessSafeKey,
    rng: SystemRandom,
}

/// A token is not a session handle of this cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionHandleError {
    /// Not base64url, too short or too long.
    #[error("the session handle is malformed")]
    Malformed,
    /// The tag does not verify: changed, or sealed under another `cookie_secret`.
    #[error("the session handle does not verify")]
    Invalid,
}

impl std::fmt::Debug for SessionHandleCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionHandleCodec([redacted])")
    }
}

// === impl SessionHandleCodec ===

impl SessionHandleCodec {
    /// A codec whose key is derived from `cookie_secret`.
    pub fn new(cookie_secret: &[u8; 32]) -> SessionHandleCodec {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"portcullis");
        let prk = salt.extract(cookie_secret);
        let mut key = [0u8; 32];
        prk.expand(&[b"session-handle".as_slice()], ring::hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut key))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let key = UnboundKey::new(&AES_256_GCM, &key).expect("AES-256 takes a 32-byte key");
        SessionHandleCodec {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        }
    }

    /// The sealed, base64url token for `handle`.
    pub fn seal(&self, handle: &SessionHandle) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the operating system's random number generator failed");
        let mut data = Vec::with_capacity(
            NONCE_LEN + 32 + handle.session_id.len() + handle.user_id.len() + 16,
        );
        data.extend_from_slice(&nonce);
        data.push(FORMAT);
        data.extend_from_slice(&unix(handle.issued_at).to_be_bytes());
        data.extend_from_slice(&handle.version.to_be_bytes());
        for s in [&handle.session_id, &handle.user_id] {
            let len = u16::try_from(s.len()).expect("ids are shorter than 64 KiB");
            data.extend_from_slice(&len.to_be_bytes());
            data.extend_from_slice(s.as_bytes());
        }
        let (_, plaintext) = data.split_at_mut(NONCE_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                plaintext,
            )
            .expect("AES-GCM seals any message shorter than 64 GiB");
        data.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(data)
    }

    /// Opens a token made by [`SessionHandleCodec::seal`] under the same secret.
    pub fn open(&self, token: &str) -> Result<SessionHandle, SessionHandleError> {
        if token.len() > MAX_TOKEN {
            return Err(SessionHandleError::Malformed);
        }
        let mut data = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| SessionHandleError::Malformed)?;
        if data.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SessionHandleError::Malformed);
        }
        let (nonce, sealed) = data.split_at_mut(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SessionHandleError::Malformed)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), sealed)
            .map_err(|_| SessionHandleError::Invalid)?;
        parse(plain).ok_or(SessionHandleError::Invalid)
    }
}

fn parse(plain: &[u8]) -> Option<SessionHandle> {
    let (&format, rest) = plain.split_first()?;
    if format != FORMAT {
        return None;
    }
    let (issued, rest) = rest.split_at_checked(8)?;
    let (version, rest) = rest.split_at_checked(8)?;
    let (session_id, rest) = string(rest)?;
    let (user_id, rest) = string(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(SessionHandle {
        session_id,
        user_id,
        issued_at: UNIX_EPOCH + Duration::from_secs(u64::from_be_bytes(issued.try_into().ok()?)),
        version: u64::from_be_bytes(version.try_into().ok()?),
    })
}

fn string(bytes: &[u8]) -> Option<(String, &[u8])> {
    let (len, rest) = bytes.split_at_checked(2)?;
    let len = usize::from(u16::from_be_bytes(len.try_into().ok()?));
    let (s, rest) = rest.split_at_checked(len)?;
    Some((String::from_utf8(s.to_vec()).ok()?, rest))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> SessionHandle {
        SessionHandle {
            session_id: "s-123".into(),
            user_id: "user@idp".into(),
            issued_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            version: 42,
        }
    }

    #[test]
    fn a_sealed_handle_opens_and_differs_every_time() {
        let codec = SessionHandleCodec::new(&[5; 32]);
        let a = codec.seal(&handle());
        let b = codec.seal(&handle());
        assert_ne!(a, b, "random nonces");
        assert_eq!(codec.open(&a), Ok(handle()));
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn tampering_another_secret_and_garbage_fail() {
        let codec = SessionHandleCodec::new(&[5; 32]);
        let token = codec.seal(&handle());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let changed = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(
                codec.open(&changed),
                Err(SessionHandleError::Invalid),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert_eq!(
            SessionHandleCodec::new(&[6; 32]).open(&token),
            Err(SessionHandleError::Invalid)
        );
        assert_eq!(
            codec.open("not base64!"),
            Err(SessionHandleError::Malformed)
        );
        assert_eq!(codec.open("AAAA"), Err(SessionHandleError::Malformed));
        assert_eq!(
            codec.open(&"A".repeat(5000)),
            Err(SessionHandleError::Malformed)
        );
        assert!(!format!("{codec:?}").contains('5'));
    }
}
