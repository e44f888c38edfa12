//! `envoy.service.auth.v3.Authorization/Check`: the engine over Envoy's ext_authz v3 wire
//! format, so the portcullis proxy (through [`portcullis_grpc::AuthorizeClient`]) and a stock
//! Envoy can both ask it.
//!
//! # Who may call
//! Like every portcullis gRPC service, `Check` rejects calls without a credential
//! (`UNAUTHENTICATED`). Two are accepted in `authorization: Bearer <...>` metadata:
//! - the short-lived HS256 service token every portcullis role sends (design §7);
//! - the static ext_authz key, for clients that cannot sign tokens (Envoy): 64 hex digits,
//!   HMAC-SHA256 of `portcullis ext_authz` under `shared_secret` ([`ext_authz_key`]), set
//!   in Envoy's `grpc_service.initial_metadata`. It changes when `shared_secret` does.

use std::sync::Arc;

use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use portcullis_grpc::{ServerAuth, SharedSecret};
use portcullis_proto::envoy;
use tonic::service::interceptor::InterceptedService;
use tonic::service::{Interceptor, Routes};
use tonic::{Request, Response, Status};

use crate::Engine;

/// The message the static ext_authz key is the HMAC of.
const EXT_AUTHZ_LABEL: &[u8] = b"portcullis ext_authz";

/// The tonic service: decodes, asks the engine, encodes.
#[derive(Debug, Clone)]
pub struct CheckService {
    engine: Arc<Engine>,
}

/// Accepts the service token or the static ext_authz key.
#[derive(Clone)]
pub struct CheckAuth {
    service: ServerAuth,
    key: Arc<ring::hmac::Key>,
}

/// The static ext_authz key for `shared_secret`: what a stock Envoy sends as
/// `authorization: Bearer <key>`. Equivalent to
/// `printf 'portcullis ext_authz' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<secret as hex>`.
pub fn ext_authz_key(shared_secret: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, shared_secret);
    let tag = ring::hmac::sign(&key, EXT_AUTHZ_LABEL);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The Check service (behind [`CheckAuth`]) as routes to serve or mount next to others.
pub fn routes(engine: Arc<Engine>, secret: &SharedSecret) -> Routes {
    Routes::new(service(engine, secret))
}

/// The Check service behind [`CheckAuth`], to add to an existing set of routes.
pub fn service(
    engine: Arc<Engine>,
    secret: &SharedSecret,
) -> InterceptedService<AuthorizationServer<CheckService>, CheckAuth> {
    InterceptedService::new(
        AuthorizationServer::new(CheckService { engine }),
        CheckAuth::new(secret),
    )
}

// === impl CheckService ===

#[tonic::async_trait]
impl Authorization for CheckService {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        let request = envoy::authorize_request(request.into_inner());
        let decision = self.engine.decide(&request).await;
        Ok(Response::new(envoy::check_response(&decision)))
    }
}

// === impl CheckAuth ===

impl CheckAuth {
    /// Accepts credentials made from `secret`.
    pub fn new(secret: &SharedSecret) -> CheckAuth {
        CheckAuth {
            service: ServerAuth::new(secret),
            key: Arc::new(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                secret.expose(),
            )),
        }
    }

    fn static_key_matches(&self, bearer: &str) -> bool {
        let Some(tag) = hex(bearer) else {
            return false;
        };
        // Constant-time comparison inside `ring`.
        ring::hmac::verify(&self.key, EXT_AUTHZ_LABEL, &tag).is_ok()
    }
}

impl Interceptor for CheckAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let bearer = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|b| self.static_key_matches(b.trim())) {
            return Ok(request);
        }
        self.service.check(request.metadata())?;
        Ok(request)
    }
}

impl std::fmt::Debug for CheckAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckAuth").finish_non_exhaustive()
    }
}

/// 64 hex digits → 32 bytes.
fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(auth: &mut CheckAuth, value: Option<&str>) -> Result<(), tonic::Code> {
        let mut request = Request::new(());
        if let Some(value) = value {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        auth.call(request).map(drop).map_err(|s| s.code())
    }

    #[test]
    fn the_static_key_and_the_service_token_are_accepted_nothing_else() {
        let secret = SharedSecret::from([7; 32]);
        let mut auth = CheckAuth::new(&secret);
        let key = ext_authz_key(secret.expose());
        // The README's openssl command gives the same for `shared_secret: KioqKi...` ([42; 32]).
        assert_eq!(
            ext_authz_key(&[42; 32]),
            "6d1f0a14a39ae0c6452cd31d8aecd1239b146c0d9a04d806c077c8c7f1061529"
        );
        assert_eq!(call(&mut auth, Some(&format!("Bearer {key}"))), Ok(()));
        let token = portcullis_grpc::ClientAuth::new(&secret).header().unwrap();
        assert_eq!(call(&mut auth, Some(token.to_str().unwrap())), Ok(()));

        let unauthenticated = Err(tonic::Code::Unauthenticated);
        assert_eq!(call(&mut auth, None), unauthenticated);
        let other = ext_authz_key(&[8; 32]);
        assert_eq!(
            call(&mut auth, Some(&format!("Bearer {other}"))),
            unauthenticated
        );
        assert_eq!(
            call(&mut auth, Some(&format!("Bearer {}", &key[..62]))),
            unauthenticated
        );
    }
}
