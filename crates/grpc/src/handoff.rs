//! The login handoff (design §4 step 5): after login, authenticate redirects the browser to
//! the route host's `/.portcullis/callback?portcullis_handoff=<sealed>`; the proxy opens it,
//! sets the session cookie for that host and redirects to the original URL.
//!
//! The handoff is sealed (AES-256-GCM, key derived from `shared_secret`, label
//! `login-handoff`) and valid for [`HANDOFF_VALID_FOR`]: it carries a session token, so it
//! must be neither readable nor long-lived.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::sealed::{SealedError, Sealer};

/// The route-host path the handoff is delivered to.
pub const CALLBACK_PATH: &str = "/.portcullis/callback";
/// The query parameter that carries the sealed handoff.
pub const HANDOFF_PARAM: &str = "portcullis_handoff";
/// How long a handoff can be used.
pub const HANDOFF_VALID_FOR: Duration = Duration::from_secs(60);

/// What authenticate hands the route host.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// The sealed session handle to set as the cookie value.
    pub token: String,
    /// Where to send the browser afterwards: the URL it first asked for. Its host must be
    /// the host the callback is served on.
    pub redirect_uri: Url,
}

/// Seals and opens handoffs.
#[derive(Debug)]
pub struct HandoffCodec {
    sealer: Sealer,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("token", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .finish()
    }
}

// === impl HandoffCodec ===

impl HandoffCodec {
    /// A codec keyed by `shared_secret`.
    pub fn new(shared_secret: &[u8; 32]) -> HandoffCodec {
        HandoffCodec {
            sealer: Sealer::new(shared_secret, "login-handoff"),
        }
    }

    /// The callback URL on `redirect_uri`'s origin that delivers `handoff`.
    pub fn callback_url(&self, handoff: &Handoff, now: SystemTime) -> Url {
        let plain = serde_json::to_vec(handoff).expect("a handoff serializes");
        let sealed = self.sealer.seal_until(&plain, now, HANDOFF_VALID_FOR);
        let mut url = handoff.redirect_uri.clone();
        url.set_path(CALLBACK_PATH);
        url.set_fragment(None);
        url.query_pairs_mut()
            .clear()
            .append_pair(HANDOFF_PARAM, &sealed);
        url
    }

    /// Opens the sealed handoff from a callback's query value.
    pub fn open(&self, sealed: &str, now: SystemTime) -> Result<Handoff, SealedError> {
        let plain = self.sealer.open_at(sealed, now)?;
        serde_json::from_slice(&plain).map_err(|_| SealedError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handoff_round_trips_through_its_callback_url_and_expires() {
        let codec = HandoffCodec::new(&[3; 32]);
        let now = SystemTime::now();
        let handoff = Handoff {
            token: "tok".into(),
            redirect_uri: Url::parse("https://app.example.com:8443/a/b?c=d#e").unwrap(),
        };
        let url = codec.callback_url(&handoff, now);
        assert_eq!(url.host_str(), Some("app.example.com"));
        assert_eq!(url.port(), Some(8443));
        assert_eq!(url.path(), CALLBACK_PATH);
        let (name, sealed) = url.query_pairs().next().unwrap();
        assert_eq!(name, HANDOFF_PARAM);
        assert!(!sealed.contains("tok"));
        assert_eq!(codec.open(&sealed, now), Ok(handoff));
        assert_eq!(
            codec.open(&sealed, now + Duration::from_secs(120)),
            Err(SealedError::Expired)
        );
        assert_eq!(
            HandoffCodec::new(&[4; 32]).open(&sealed, now),
            Err(SealedError::Invalid)
        );
    }
}
