//! Shared-secret authentication of calls between roles.
//!
//! A caller signs an HS256 JWT with the shared secret (`iat`, `exp` =
//! `iat` + [`TOKEN_LIFETIME`]) and sends it as `authorization: Bearer <jwt>`.
//! The callee checks the signature (constant-time HMAC comparison inside
//! `jsonwebtoken`) and the expiry, allowing [`CLOCK_SKEW`] of clock difference.
//! Clients cache their token and sign a new one once less than
//! [`REFRESH_BEFORE`] of its life is left, so a busy client signs about once a
//! minute rather than per call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::SharedSecret;

/// How long a signed token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A cached token is replaced once it has less than this left.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(20);
/// Tolerated difference between the clocks of caller and callee.
pub const CLOCK_SKEW: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
}

/// Adds `authorization: Bearer <jwt>` to every outgoing call.
///
/// Cheap to clone; clones share one cached token.
#[derive(Clone)]
pub struct ClientAuth {
    key: Arc<EncodingKey>,
    cached: Arc<Mutex<Option<CachedToken>>>,
}

#[derive(Clone)]
struct CachedToken {
    header: MetadataValue<tonic::metadata::Ascii>,
    exp: u64,
}

/// Rejects calls without a valid `authorization: Bearer <jwt>`.
#[derive(Clone)]
pub struct ServerAuth {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

// === impl ClientAuth ===

impl ClientAuth {
    /// A client authenticator signing with `secret`.
    pub fn new(secret: &SharedSecret) -> Self {
        Self {
            key: Arc::new(EncodingKey::from_secret(secret.expose())),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The `authorization` header value to send now: the cached one while it
    /// has at least [`REFRESH_BEFORE`] left, otherwise a freshly signed one.
    pub fn header(&self) -> Result<MetadataValue<tonic::metadata::Ascii>, Status> {
        let now = now_secs();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = cached.as_ref()
            && token.exp > now + REFRESH_BEFORE.as_secs()
        {
            return Ok(token.header.clone());
        }
        let exp = now + TOKEN_LIFETIME.as_secs();
        let jwt = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims { iat: now, exp },
            &self.key,
        )
        .map_err(|error| {
            tracing::error!(%error, "signing a service token failed");
            Status::internal("signing a service token failed")
        })?;
        let header: MetadataValue<_> = format!("Bearer {jwt}")
            .parse()
            .map_err(|_| Status::internal("service token is not valid metadata"))?;
        *cached = Some(CachedToken {
            header: header.clone(),
            exp,
        });
        Ok(header)
    }
}

impl Interceptor for ClientAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = self.header()?;
        request.metadata_mut().insert("authorization", header);
        Ok(request)
    }
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth").finish_non_exhaustive()
    }
}

// === impl ServerAuth ===

impl ServerAuth {
    /// A server authenticator accepting tokens signed with `secret`.
    pub fn new(secret: &SharedSecret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = CLOCK_SKEW.as_secs();
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            key: Arc::new(DecodingKey::from_secret(secret.expose())),
            validation: Arc::new(validation),
        }
    }

    /// Checks the metadata of one call. The error says what was wrong in a
    /// few safe words; details go to the debug log.
    pub fn check(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        let Some(value) = metadata.get("authorization") else {
            return Err(Status::unauthenticated("missing service token"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("malformed service token"))?;
        match jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) => {
                // Reject tokens claiming a lifetime longer than we ever issue.
                let max = TOKEN_LIFETIME.as_secs() + CLOCK_SKEW.as_secs();
                if data.claims.exp > now_secs() + max {
                    return Err(Status::unauthenticated("invalid service token"));
                }
                Ok(())
            }
            Err(error) => {
                tracing::debug!(%error, "rejected service token");
                Err(Status::unauthenticated("invalid service token"))
            }
        }
    }
}

impl Interceptor for ServerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.check(request.metadata())?;
        Ok(request)
    }
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAuth").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn secret(b: u8) -> SharedSecret {
        SharedSecret::from([b; 32])
    }

    fn call(client: &mut ClientAuth) -> Request<()> {
        client.call(Request::new(())).unwrap()
    }

    #[test]
    fn signed_token_is_accepted() {
        let mut client = ClientAuth::new(&secret(1));
        let mut server = ServerAuth::new(&secret(1));
        assert!(server.call(call(&mut client)).is_ok());
    }

    #[test]
    fn token_is_cached() {
        let client = ClientAuth::new(&secret(1));
        assert_eq!(client.header().unwrap(), client.header().unwrap());
    }

    #[test]
    fn wrong_secret_is_unauthenticated() {
        let mut client = ClientAuth::new(&secret(1));
        let mut server = ServerAuth::new(&secret(2));
        let err = server.call(call(&mut client)).unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    #[test]
    fn missing_and_malformed_are_unauthenticated() {
        let mut server = ServerAuth::new(&secret(1));
        let err = server.call(Request::new(())).unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(server.call(req).unwrap_err().code(), Code::Unauthenticated);
    }

    fn token_with(exp: u64, alg: Algorithm, key: &[u8]) -> Request<()> {
        let jwt = jsonwebtoken::encode(
            &Header::new(alg),
            &Claims { iat: 0, exp },
            &EncodingKey::from_secret(key),
        )
        .unwrap();
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", format!("Bearer {jwt}").parse().unwrap());
        req
    }

    #[test]
    fn expired_and_overlong_tokens_are_unauthenticated() {
        let mut server = ServerAuth::new(&secret(1));
        let expired = token_with(now_secs() - 120, Algorithm::HS256, &[1; 32]);
        assert_eq!(
            server.call(expired).unwrap_err().code(),
            Code::Unauthenticated
        );
        let overlong = token_with(now_secs() + 3600, Algorithm::HS256, &[1; 32]);
        assert_eq!(
            server.call(overlong).unwrap_err().code(),
            Code::Unauthenticated
        );
        let other_alg = token_with(now_secs() + 30, Algorithm::HS512, &[1; 32]);
        assert_eq!(
            server.call(other_alg).unwrap_err().code(),
            Code::Unauthenticated
        );
        let fine = token_with(now_secs() + 30, Algorithm::HS256, &[1; 32]);
        assert!(server.call(fine).is_ok());
    }
}
