//! URLs signed with a key derived from `shared_secret`, so one role can hand another a URL
//! (the sign-in redirect: proxy/authorize → authenticate) that cannot be forged or replayed
//! after it expires. Pomerium does the same with its `pomerium_signature` parameters.
//!
//! The signature is HMAC-SHA256 over the whole URL as sent, minus the signature parameter,
//! which is always last; `issued` and `expiry` parameters (Unix seconds) are inside the MAC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

const ISSUED: &str = "portcullis_issued";
const EXPIRY: &str = "portcullis_expiry";
const SIGNATURE: &str = "portcullis_signature";
/// Clock difference tolerated between the signing and the verifying replica.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Signs and verifies URLs.
pub struct UrlSigner {
    key: ring::hmac::Key,
}

/// A signed URL did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedUrlError {
    /// No signature, issued or expiry parameter, or one that does not parse.
    #[error("the URL is not signed")]
    Missing,
    /// The signature does not match: the URL was changed or signed with another secret.
    #[error("the URL's signature is invalid")]
    Invalid,
    /// Issued in the future or past its expiry.
    #[error("the signed URL has expired")]
    Expired,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner([redacted])")
    }
}

// === impl UrlSigner ===

impl UrlSigner {
    /// A signer whose key is derived from `shared_secret` (HKDF, label `signed-url`).
    pub fn new(shared_secret: &[u8; 32]) -> UrlSigner {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"portcullis");
        let prk = salt.extract(shared_secret);
        let info = [b"signed-url".as_slice()];
        let okm = prk
            .expand(&info, ring::hmac::HMAC_SHA256)
            .expect("HMAC-SHA256 key length is a valid HKDF output length");
        UrlSigner {
            key: ring::hmac::Key::from(okm),
        }
    }

    /// Adds `issued`, `expiry` and the signature to `url`.
    pub fn sign(&self, mut url: Url, now: SystemTime, valid_for: Duration) -> Url {
        let issued = unix(now);
        url.query_pairs_mut()
            .append_pair(ISSUED, &issued.to_string())
            .append_pair(EXPIRY, &(issued + valid_for.as_secs()).to_string());
        let tag = ring::hmac::sign(&self.key, url.as_str().as_bytes());
        url.query_pairs_mut()
            .append_pair(SIGNATURE, &URL_SAFE_NO_PAD.encode(tag.as_ref()));
        url
    }

    /// Checks the signature (in constant time) and the validity window; returns the URL
    /// without the signing parameters.
    pub fn verify(&self, url: &Url, now: SystemTime) -> Result<Url, SignedUrlError> {
        let text = url.as_str();
        let marker = format!("&{SIGNATURE}=");
        let at = text.rfind(&marker).ok_or(SignedUrlError::Missing)?;
        let (signed, signature) = (&text[..at], &text[at + marker.len()..]);
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignedUrlError::Missing)?;
        ring::hmac::verify(&self.key, signed.as_bytes(), &tag)
            .map_err(|_| SignedUrlError::Invalid)?;

        let signed = Url::parse(signed).map_err(|_| SignedUrlError::Invalid)?;
        let param = |name: &str| {
            signed
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .ok_or(SignedUrlError::Missing)
        };
        let (issued, expiry) = (param(ISSUED)?, param(EXPIRY)?);
        let now = unix(now);
        if issued > now + CLOCK_SKEW.as_secs() || expiry + CLOCK_SKEW.as_secs() < now {
            return Err(SignedUrlError::Expired);
        }
        let mut clean = signed.clone();
        let rest: Vec<(String, String)> = signed
            .query_pairs()
            .filter(|(k, _)| k != ISSUED && k != EXPIRY)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if rest.is_empty() {
            clean.set_query(None);
        } else {
            clean.query_pairs_mut().clear().extend_pairs(rest);
        }
        Ok(clean)
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://auth.example.com/.portcullis/sign_in?redirect_uri=https%3A%2F%2Fapp.example.com%2Fx").unwrap()
    }

    #[test]
    fn a_signed_url_verifies_and_comes_back_clean() {
        let signer = UrlSigner::new(&[9; 32]);
        let now = SystemTime::now();
        let signed = signer.sign(url(), now, Duration::from_secs(300));
        assert_eq!(signer.verify(&signed, now), Ok(url()));
    }

    #[test]
    fn tampering_another_secret_or_age_fail() {
        let signer = UrlSigner::new(&[9; 32]);
        let now = SystemTime::now();
        let signed = signer.sign(url(), now, Duration::from_secs(300));
        let tampered = Url::parse(
            &signed
                .as_str()
                .replace("app.example.com", "evil.example.com"),
        )
        .unwrap();
        assert_eq!(signer.verify(&tampered, now), Err(SignedUrlError::Invalid));
        assert_eq!(
            UrlSigner::new(&[8; 32]).verify(&signed, now),
            Err(SignedUrlError::Invalid)
        );
        assert_eq!(
            signer.verify(&signed, now + Duration::from_secs(400)),
            Err(SignedUrlError::Expired)
        );
        assert_eq!(signer.verify(&url(), now), Err(SignedUrlError::Missing));
    }
}
