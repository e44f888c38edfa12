//! The identity JWT sent upstream as `X-Portcullis-Jwt-Assertion` (design §5).
//!
//! Signing an ES256 token costs tens of microseconds, far more than a decision, so a token is
//! reused per (session, route, identity version) until shortly before it expires.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::Header;
use serde::Serialize;

use crate::SigningKey;

/// Identity tokens live this long.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// A cached token is replaced once less than this much of its life is left.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
const SHARDS: usize = 16;
/// A shard is swept of expired tokens when it grows past this many entries.
const SWEEP_AT: usize = 4096;

/// Who the request is from, as the token states it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityClaims {
    /// The user id (`sub` and `user`).
    pub user_id: String,
    /// `email`.
    pub email: String,
    /// `groups`.
    pub groups: Vec<String>,
    /// `name`.
    pub name: String,
}

/// What a token is for.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    /// The session id (`sid`).
    pub session_id: &'a str,
    /// The route the token is for (cache key only).
    pub route_id: &'a str,
    /// The route's host: `iss` and `aud`.
    pub audience: &'a str,
    /// Changes whenever the session or user record changes, so a token never outlives the
    /// identity it states (e.g. the databroker versions of both records).
    pub identity_version: u64,
    /// The identity.
    pub claims: &'a IdentityClaims,
    /// The time to sign at.
    pub now: SystemTime,
}

/// Signs identity tokens and caches them.
#[derive(Debug)]
pub struct IdentityJwtSigner {
    key: SigningKey,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<CacheKey, Cached>>>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    session_id: String,
    route_id: String,
    identity_version: u64,
}

#[derive(Debug, Clone)]
struct Cached {
    token: Arc<str>,
    expires: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    sub: &'a str,
    user: &'a str,
    email: &'a str,
    groups: &'a [String],
    name: &'a str,
    sid: &'a str,
}

// === impl IdentityJwtSigner ===

impl IdentityJwtSigner {
    /// A signer for `key`.
    pub fn new(key: SigningKey) -> IdentityJwtSigner {
        IdentityJwtSigner {
            key,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// The key, for the JWKS document.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// A token for the request: the cached one while it has more than a minute left.
    pub fn token(&self, req: &TokenRequest<'_>) -> Result<Arc<str>, jsonwebtoken::errors::Error> {
        let now = unix_seconds(req.now);
        let key = CacheKey {
            session_id: req.session_id.to_owned(),
            route_id: req.route_id.to_owned(),
            identity_version: req.identity_version,
        };
        let shard = &self.shards[(self.hasher.hash_one(&key) as usize) % SHARDS];
        if let Some(c) = lock(shard).get(&key)
            && c.expires > now + REFRESH_MARGIN.as_secs()
        {
            return Ok(Arc::clone(&c.token));
        }
        let expires = now + TOKEN_LIFETIME.as_secs();
        let token: Arc<str> = self.sign(req, now, expires)?.into();
        let mut map = lock(shard);
        if map.len() >= SWEEP_AT {
            map.retain(|_, c| c.expires > now);
        }
        map.insert(
            key,
            Cached {
                token: Arc::clone(&token),
                expires,
            },
        );
        Ok(token)
    }

    fn sign(
        &self,
        req: &TokenRequest<'_>,
        iat: u64,
        exp: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.key.algorithm());
        header.kid = Some(self.key.kid().to_owned());
        let claims = Claims {
            iss: req.audience,
            aud: req.audience,
            iat,
            exp,
            jti: random_id(),
            sub: &req.claims.user_id,
            user: &req.claims.user_id,
            email: &req.claims.email,
            groups: &req.claims.groups,
            name: &req.claims.name,
            sid: req.session_id,
        };
        jsonwebtoken::encode(&header, &claims, self.key.encoding_key())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a plain cache; its contents are still valid.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn random_id() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    use super::*;

    fn request<'a>(claims: &'a IdentityClaims, version: u64, now: SystemTime) -> TokenRequest<'a> {
        TokenRequest {
            session_id: "s1",
            route_id: "r1",
            audience: "app.example.com",
            identity_version: version,
            claims,
            now,
        }
    }

    #[test]
    fn tokens_verify_against_the_jwks_and_carry_the_claims() {
        let signer = IdentityJwtSigner::new(SigningKey::derive(&[3; 32]));
        let claims = IdentityClaims {
            user_id: "u1".into(),
            email: "a@example.com".into(),
            groups: vec!["admins".into()],
            name: "A".into(),
        };
        let token = signer
            .token(&request(&claims, 1, SystemTime::now()))
            .unwrap();
        let header = decode_header(&*token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(signer.key().kid()));
        let jwks = signer.key().jwks();
        let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["app.example.com"]);
        let data = decode::<serde_json::Value>(&*token, &key, &validation).unwrap();
        let c = data.claims;
        assert_eq!(
            (c["sub"].as_str(), c["email"].as_str(), c["sid"].as_str()),
            (Some("u1"), Some("a@example.com"), Some("s1"))
        );
        assert_eq!(c["groups"][0], "admins");
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);
    }

    #[test]
    fn tokens_are_reused_until_near_expiry_and_never_across_identity_versions() {
        let signer = IdentityJwtSigner::new(SigningKey::derive(&[3; 32]));
        let claims = IdentityClaims::default();
        let t0 = SystemTime::now();
        let a = signer.token(&request(&claims, 1, t0)).unwrap();
        let b = signer
            .token(&request(&claims, 1, t0 + Duration::from_secs(200)))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b), "a token with 100 s left is reused");
        let c = signer
            .token(&request(&claims, 1, t0 + Duration::from_secs(250)))
            .unwrap();
        assert_ne!(a, c, "a token with under a minute left is replaced");
        let d = signer
            .token(&request(&claims, 2, t0 + Duration::from_secs(250)))
            .unwrap();
        assert_ne!(c, d, "a changed identity gets a new token");
    }
}
