//! Portcullis authorize: the decision engine, the identity JWT, and an Envoy-compatible
//! Check service.

mod identity_jwt;
mod signing_key;

pub use identity_jwt::{IdentityClaims, IdentityJwtSigner, TOKEN_LIFETIME, TokenRequest};
pub use signing_key::{SigningKey, SigningKeyError};
