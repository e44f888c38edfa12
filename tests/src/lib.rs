//! Harness for portcullis end-to-end tests.
//!
//! - [`process`]: the real `portcullis` executable with a generated configuration, on ports
//!   chosen by the kernel, waited on until it says it has started.
//! - [`postgres`]: a private, throw-away PostgreSQL server (or `DATABASE_URL`).
//! - [`oidc`]: a real OpenID provider (node `oidc-provider`, pinned in `tests/oidc`).
//!
//! - [`upstream`]: an echo upstream that records what the proxy forwarded.
//! - [`login`]: session and user records written as authenticate writes them.
//! - [`jwt`]: identity JWTs verified by an independent implementation (pyjwt).
//! - [`prometheus`]: metrics parsed by an independent parser (Python prometheus-client).
//! - [`browser`]: a real Chromium, driven by `playwright-core` (pinned in `tests/browser`).
//!
//! - [`tls`]: a throw-away CA and the certificates it signs (rcgen), for TLS tests.
//! - [`nginx`]: a real nginx with a generated configuration (forward-auth client, bench baseline).
//! - [`dns`]: a real DNS server (dnsmasq) whose records tests rewrite, and listeners sharing
//!   one port on several loopback addresses.
//!
//! - [`cluster`]: a split-mode cluster of real processes behind real DNS (two authorize and
//!   two databroker replicas, PostgreSQL, a proxy and an authenticate process).
//! - [`load`]: a steady-rate HTTP load generator that records every request's outcome.
//!
//! Everything waits on conditions with deadlines; nothing sleeps and hopes.

pub mod browser;
pub mod cluster;
pub mod dns;
pub mod jwt;
pub mod load;
pub mod login;
pub mod nginx;
pub mod oidc;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod tls;
pub mod upstream;
pub mod wait;
