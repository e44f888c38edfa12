//! Portcullis authorize: the decision engine, the identity JWT, and an Envoy-compatible
//! Check service (design §1, §3, §5).
//!
//! - [`Engine`]: decides one [`AuthorizeRequest`](portcullis_proto::AuthorizeRequest) from
//!   the route's compiled policy and the session and user records of a local databroker
//!   replica; implements [`Authorizer`](portcullis_proto::Authorizer), so the proxy calls it
//!   in process exactly as it calls the gRPC client in split mode.
//! - [`IdentityJwtSigner`] / [`SigningKey`]: the `X-Portcullis-Jwt-Assertion` token (ES256
//!   or RS256, `kid` = RFC 7638 thumbprint), cached per (session, route, identity version),
//!   and the JWKS document that publishes the key.
//! - [`check`]: `envoy.service.auth.v3.Authorization/Check` over the engine, for the proxy and
//!   for a stock Envoy.
//! - [`serve`]: the role entry point the binary calls.
//!
//! Every decision writes one `decision` log line (target [`DECISION_LOG_TARGET`]).

mod certificate;
pub mod check;
mod credential;
mod decision_log;
mod engine;
mod error;
mod headers;
mod identity_jwt;
mod respond;
mod role;
mod routes;
mod sessions;
mod signing_key;

pub use check::{CheckAuth, CheckService, ext_authz_key};
pub use decision_log::TARGET as DECISION_LOG_TARGET;
pub use engine::Engine;
pub use error::{AuthorizeError, EngineError};
pub use headers::JWT_ASSERTION_HEADER;
pub use identity_jwt::{IdentityClaims, IdentityJwtSigner, TOKEN_LIFETIME, TokenRequest};
pub use role::{connect_databroker, serve};
pub use sessions::REPLICA_WAIT;
pub use signing_key::{SigningKey, SigningKeyError};
