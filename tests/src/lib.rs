//! Harness for portcullis end-to-end tests.
//!
//! - [`process`]: the real `portcullis` executable with a generated configuration, on ports
//!   chosen by the kernel, waited on until it says it has started.
//! - [`postgres`]: a private, throw-away PostgreSQL server (or `DATABASE_URL`).
//! - [`oidc`]: a real OpenID provider (node `oidc-provider`, pinned in `tests/oidc`).
//!
//! Everything waits on conditions with deadlines; nothing sleeps and hopes.

pub mod oidc;
pub mod postgres;
pub mod process;
pub mod wait;
