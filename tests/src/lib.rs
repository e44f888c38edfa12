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
//! - [`browser`]: a real Chromium, driven by `playwright-core` (pinned in `tests/browser`).
//!
//! - [`tls`]: a throw-away CA and the certificates it signs (rcgen), for TLS tests.
//! - [`dns`]: a real DNS server (dnsmasq) whose records tests rewrite, and listeners sharing
//!   one port on several loopback addresses.
//!
//! Everything waits on conditions with deadlines; nothing sleeps and hopes.

pub mod browser;
pub mod dns;
pub mod jwt;
pub mod login;
pub mod oidc;
pub mod postgres;
pub mod process;
pub mod tls;
pub mod upstream;
pub mod wait;
