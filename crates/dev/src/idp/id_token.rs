//! The ID token (OpenID Connect Core §2): ES256, `kid` in the header, and the user's claims.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use serde::Serialize;

use super::keys::KeyError;
use super::store::Issued;
use super::{DevIdp, unix_time};

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    auth_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    at_hash: String,
    email: &'a str,
    email_verified: bool,
    name: &'a str,
    groups: &'a [String],
}

/// The ID token that goes with `issued`, signed at `now`; it expires with the access token.
pub(super) fn sign(idp: &DevIdp, issued: &Issued, now: SystemTime) -> Result<String, KeyError> {
    let iat = unix_time(now);
    let identity = &issued.identity;
    let claims = Claims {
        iss: &idp.issuer,
        sub: &identity.sub,
        aud: &issued.client_id,
        exp: iat + idp.store.lifetimes().access.as_secs().max(1),
        iat,
        auth_time: issued.auth_time,
        nonce: issued.nonce.as_deref(),
        at_hash: at_hash(&issued.access_token),
        email: &identity.email,
        email_verified: true,
        name: &identity.name,
        groups: &identity.groups,
    };
    idp.key.sign(&claims)
}

/// The left half of SHA-256 over the access token, base64url (OpenID Connect Core §3.1.3.6).
fn at_hash(access_token: &str) -> String {
    let hash = digest::digest(&digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_openid_spec_example() {
        // OpenID Connect Core, Appendix A.3 (RS256, so SHA-256 like ES256).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
