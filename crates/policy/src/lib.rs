//! The Pomerium Policy Language: parsed once, compiled once, evaluated without allocating.
//!
//! Every authorization decision goes through this crate (design §9). It is pure: no I/O, no
//! clock, no async. The config crate calls [`compile`] with a route's `policy` node and its
//! [`LegacyRules`]; the authorize engine calls [`Policy::evaluate`] with a borrowed [`Input`]
//! per request and gets a [`Decision`] with the [`Reasons`] behind it.
//!
//! ```
//! use std::time::SystemTime;
//! use portcullis_policy::{Input, Policy, Reason, Request, User};
//!
//! let policy = Policy::parse(
//!     "allow:\n  and:\n    - domain: example.com\ndeny:\n  or:\n    - http_method: DELETE\n",
//! )
//! .unwrap();
//! let mut input = Input::new(Request { method: "GET", path: "/", ..Request::default() }, SystemTime::now());
//! assert!(policy.evaluate(&input).requires_login);
//!
//! input.user = Some(User { id: "u1", email: Some("ann@example.com"), ..User::default() });
//! let decision = policy.evaluate(&input);
//! assert!(decision.allow && decision.reasons.contains(Reason::DomainOk));
//! ```
//!
//! # Semantics
//! A policy is one rule or a list of rules; a rule has `allow` and/or `deny` actions; an action
//! holds operators — `and` (all hold), `or` (some holds), `not` (none holds), `nor` (not all
//! hold) — over lists of criteria. All operators under all `allow`s are alternatives, and so
//! are those under `deny`s. Access is allowed iff some `allow` holds and no `deny` holds; an
//! empty policy denies. Legacy route fields compile to one more `allow: or: [...]`.

mod compile;
mod criteria;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod input;
mod legacy;
mod matchers;
mod owned;
mod policy;
mod reasons;

pub use compile::compile;
pub use error::PolicyError;
pub use input::{ClientCertificate, Input, Request, User};
pub use legacy::LegacyRules;
pub use owned::{
    InputError, OwnedCertificate, OwnedInput, OwnedRequest, OwnedUser, TimeError, parse_time,
};
pub use policy::{Decision, Policy};
pub use reasons::{Reason, Reasons, ReasonsIter};
