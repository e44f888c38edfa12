//! Unguessable values: session ids, CSRF values, nonces, PKCE verifiers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};

/// 256 random bits as 43 base64url characters.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}
