//! The Pomerium-compatible policy language (placeholder: the policy issue fills this in).
//!
//! Interface used by `portcullis-config`: [`compile`] turns a route's `policy` node plus its
//! legacy allow fields into a [`Policy`], or returns every problem with where it was written.

use std::collections::BTreeMap;

use portcullis_yaml::{Node, Origin};

/// The legacy route fields that compile to the same form as `policy`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyRules {
    /// `allow_public_unauthenticated_access`
    pub allow_public_unauthenticated_access: bool,
    /// `allow_any_authenticated_user`
    pub allow_any_authenticated_user: bool,
    /// `cors_allow_preflight`
    pub cors_allow_preflight: bool,
    /// `allowed_users`: user ids or emails.
    pub allowed_users: Vec<String>,
    /// `allowed_domains`
    pub allowed_domains: Vec<String>,
    /// `allowed_idp_claims`: claim name → accepted values.
    pub allowed_idp_claims: BTreeMap<String, Vec<serde_json::Value>>,
}

/// A problem in a policy, with where it was written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// Where the offending value was written.
    pub origin: Option<Origin>,
    /// Names the rule, action, operator and criterion at fault.
    pub message: String,
}

/// A compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    _private: (),
}

/// Compiles a route's policy.
pub fn compile(policy: Option<&Node>, legacy: &LegacyRules) -> Result<Policy, Vec<PolicyError>> {
    let _ = (policy, legacy);
    Ok(Policy::default())
}
