//! Portcullis proxy: the data plane (design §3).
//!
//! ```text
//! accept (TCP/TLS, SNI, ALPN h2 | http/1.1)            server.rs, server/tls.rs
//!  → parse target: Host, normalized path, query       target.rs, normalize.rs
//!  → authenticate host? → its service (all-in-one) or  proxy.rs
//!    its replicas (split)                              authenticate_forward.rs
//!  → /ping, /healthz, jwks, /.portcullis/verify         endpoints.rs, forward_auth.rs
//!  → match route (host index, then path rules)          routes.rs        none → 404
//!  → /.portcullis/* on a route host                     endpoints/*.rs
//!  → authorize (every request, Authorizer trait)        pipeline.rs      Deny → as-is
//!  → rewrite: strip credentials and hop-by-hop headers,  headers.rs, rewrite.rs
//!    apply the Allow, route header ops, X-Forwarded-*
//!  → forward (pooled clients, round robin, retry on     forward.rs, upstream.rs
//!    connect failure, timeout → 504, errors → 502)
//!  → upgrades: a tunnel re-authorized every second      upgrade.rs
//!  → response headers, access log line                  access_log.rs
//! ```
//!
//! Every step returns an enum — continue, or answer now — and every failure is one
//! `Failure` that a single module maps to a response that hides internals.
//! The compiled configuration (routes, upstream pools, keys) is one immutable snapshot
//! behind an [`arc_swap::ArcSwap`], replaced whole by [`Proxy::reload`].
//!
//! The proxy knows nothing of how decisions are made: it holds an
//! `Arc<dyn` [`Authorizer`](portcullis_proto::Authorizer)`>` — the in-process engine in
//! all-in-one mode, the gRPC Check client in split mode — and a databroker
//! [`Storage`](portcullis_databroker::Storage) for the sign-out and user-page endpoints.

mod access_log;
mod authenticate_forward;
mod body;
mod endpoints;
mod error;
mod forward;
mod forward_auth;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
mod normalize;
mod pipeline;
mod proxy;
mod request_id;
mod rescue;
mod rewrite;
mod routes;
mod server;
mod snapshot;
mod target;
#[cfg(test)]
mod testing;
mod upgrade;
mod upstream;

use std::convert::Infallible;

pub use authenticate_forward::{HOP as AUTHENTICATE_HOP, forward_authenticate};
pub use error::ProxyError;
pub use portcullis_telemetry::ReadyCheck;
pub use proxy::Proxy;
pub use server::tls::{grpc_server_tls, server_tls};
pub use server::{ClientInfo, serve_http_redirect, serve_service};

/// The error type of proxy bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the proxy produces (and of requests it sends upstream).
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;

/// A service for a whole host: the authenticate host in all-in-one mode, or any service
/// [`serve_service`] puts on a listener. Each request carries a [`ClientInfo`] extension.
pub type HostService = tower::util::BoxCloneSyncService<
    http::Request<hyper::body::Incoming>,
    http::Response<ProxyBody>,
    Infallible,
>;
