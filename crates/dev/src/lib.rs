//! `portcullis dev`: what a newcomer needs to see the whole product work without an identity
//! provider or an application of their own.
//!
//! - [`DevIdp`]: a real, minimal OpenID provider over plain HTTP (discovery, authorization
//!   code flow with PKCE S256, token, JWKS, userinfo, end-session). Its login form signs in
//!   *anyone* with *any* email, so it is for development only; the authenticate role talks to
//!   it through exactly the same OIDC code as to any other provider.
//! - [`demo_upstream`]: an application that shows the identity headers and the (decoded, not
//!   verified) identity JWT that the proxy sent it.
//!
//! Both are `axum::Router`s: the binary decides where they listen.

mod html;
mod idp;
mod random;
mod upstream;

pub use idp::{DevClient, DevIdp};
pub use upstream::demo_upstream;
