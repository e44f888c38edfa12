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
//! (The sealing is [`crate::sealed::Sealer`] with label `session-handle`.)
//! Opening checks the tag in constant time (inside `ring`); a handle that was changed, or
//! sealed under another secret, does not open. The databroker version lets a reader wait for
//! its replica to catch up right after login (read-your-writes) before it says "no session".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sealed::{SealedError, Sealer, unix};

/// Format byte of the plaintext; bump when the layout changes.
const FORMAT: u8 = 1;
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
#[derive(Debug)]
pub struct SessionHandleCodec {
    sealer: Sealer,
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

// === impl SessionHandleCodec ===

impl SessionHandleCodec {
    /// A codec whose key is derived from `cookie_secret`.
    pub fn new(cookie_secret: &[u8; 32]) -> SessionHandleCodec {
        SessionHandleCodec {
            sealer: Sealer::new(cookie_secret, "session-handle"),
        }
    }

    /// The sealed, base64url token for `handle`.
    pub fn seal(&self, handle: &SessionHandle) -> String {
        let mut data = Vec::with_capacity(21 + handle.session_id.len() + handle.user_id.len());
        data.push(FORMAT);
        data.extend_from_slice(&unix(handle.issued_at).to_be_bytes());
        data.extend_from_slice(&handle.version.to_be_bytes());
        for s in [&handle.session_id, &handle.user_id] {
            let len = u16::try_from(s.len()).expect("ids are shorter than 64 KiB");
            data.extend_from_slice(&len.to_be_bytes());
            data.extend_from_slice(s.as_bytes());
        }
        self.sealer.seal(&data)
    }

    /// Opens a token made by [`SessionHandleCodec::seal`] under the same secret.
    pub fn open(&self, token: &str) -> Result<SessionHandle, SessionHandleError> {
        if token.len() > MAX_TOKEN {
            return Err(SessionHandleError::Malformed);
        }
        let plain = self.sealer.open(token).map_err(|e| match e {
            SealedError::Malformed => SessionHandleError::Malformed,
            SealedError::Invalid | SealedError::Expired => SessionHandleError::Invalid,
        })?;
        parse(&plain).ok_or(SessionHandleError::Invalid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::aead::NONCE_LEN;

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
