//! gRPC plumbing shared by every portcullis role.
//!
//! - [`SharedSecret`]: the cluster's shared secret, never printed.
//! - [`auth`]: every call between roles carries `authorization: Bearer <jwt>`, a
//!   short-lived HS256 JWT signed with the shared secret. [`ClientAuth`] adds it
//!   (caching one token until shortly before it expires); [`ServerAuth`] rejects
//!   calls without a valid one with `UNAUTHENTICATED`.
//! - [`channel`]: client channels to a service: one lazy connection, or DNS-balanced over
//!   every address of every service URL ([`connect_peers`], driven by [`balance`]), h2c for
//!   `http://` and TLS for `https://` ([`tls`]); [`retry`]: idempotent calls retried on
//!   another endpoint; [`resolve`]: every address of a host, kept fresh, for clients that
//!   balance on their own.
//! - [`signed_url`]: URLs one role hands another (the sign-in redirect), HMAC-signed
//!   with a key derived from the shared secret.
//! - [`sealed`]: authenticated encryption of small values handed through browsers, keyed
//!   per use; [`handoff`]: the sealed login handoff authenticate gives route hosts;
//!   [`session_cookie`]: the session cookie's `Set-Cookie` values.
//! - [`session_handle`]: the sealed session handle the cookie and bearer tokens carry
//!   (AES-256-GCM under a key derived from `cookie_secret`).
//! - [`authorize_client`]: the proxy's [`Authorizer`](portcullis_proto::Authorizer) in split
//!   mode: Envoy's `Check` over gRPC.
//! - [`server`]: serve a set of tonic routes (plus `grpc.health.v1.Health`, see [`health`])
//!   on a bound listener, h2c or TLS, until a shutdown future resolves.

pub mod auth;
pub mod authorize_client;
pub mod balance;
pub mod channel;
#[doc(hidden)]
pub mod fuzzing;
pub mod handoff;
pub mod health;
pub mod metrics;
pub mod resolve;
pub mod retry;
pub mod sealed;
mod secret;
pub mod server;
pub mod session_cookie;
pub mod session_handle;
pub mod signed_url;
pub mod tls;

pub use auth::{ClientAuth, ServerAuth};
pub use authorize_client::AuthorizeClient;
pub use balance::Failover;
pub use channel::{
    BalancedChannel, ChannelError, DnsOptions, PeerOptions, connect_balanced, connect_lazy,
    connect_peers,
};
pub use handoff::{Handoff, HandoffCodec};
pub use health::Health;
pub use retry::{is_connection_failure, retry_idempotent};
pub use sealed::{SealedError, Sealer};
pub use secret::SharedSecret;
pub use server::{ServeError, serve, serve_with, serve_with_readiness};
pub use session_cookie::SessionCookie;
pub use session_handle::{SessionHandle, SessionHandleCodec, SessionHandleError};
pub use signed_url::{SignedUrlError, UrlSigner};
pub use tls::{PeerTls, TlsError};
