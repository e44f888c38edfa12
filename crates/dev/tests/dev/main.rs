//! The development OpenID provider driven by an independent OIDC client (the `openidconnect`
//! crate over real HTTP on 127.0.0.1:0), and the demo upstream.

mod end_session;
mod login;
mod refusals;
mod support;
mod upstream;
