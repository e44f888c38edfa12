//! Legacy route fields (`allowed_users`, `allow_public_unauthenticated_access`, ...) compile to
//! one `allow: or: [...]` operator, OR-ed with the route's `policy` like any other rule.

use std::collections::BTreeMap;

use crate::compile::{Operator, OperatorKind};
use crate::criteria::{Claim, Criterion};
use crate::error::Sink;
use crate::matchers::{Case, ListMatcher, ListValue, StringMatcher};

/// The legacy route fields that compile to the same form as `policy`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyRules {
    /// `allow_public_unauthenticated_access`: `allow: or: [accept: true]`.
    pub allow_public_unauthenticated_access: bool,
    /// `allow_any_authenticated_user`: `allow: or: [authenticated_user: true]`.
    pub allow_any_authenticated_user: bool,
    /// `cors_allow_preflight`: `allow: or: [cors_preflight: true]`.
    pub cors_allow_preflight: bool,
    /// `allowed_users`: user ids or emails (`user: {in: ...}` or `email: {in: ...}`).
    pub allowed_users: Vec<String>,
    /// `allowed_domains`: `domain: {in: ...}`.
    pub allowed_domains: Vec<String>,
    /// `allowed_idp_claims`: claim name → accepted values (`claim/<name>: [values]`).
    pub allowed_idp_claims: BTreeMap<String, Vec<serde_json::Value>>,
}

/// The legacy fields as one `or` operator (none when no field is set). Errors go to `sink`.
pub(crate) fn compile(legacy: &LegacyRules, sink: &mut Sink<'_>) -> Option<Operator> {
    let mut criteria = Vec::new();
    if legacy.allow_public_unauthenticated_access {
        criteria.push(Criterion::Accept);
    }
    if legacy.allow_any_authenticated_user {
        criteria.push(Criterion::AuthenticatedUser);
    }
    if legacy.cors_allow_preflight {
        criteria.push(Criterion::CorsPreflight);
    }
    if !legacy.allowed_users.is_empty() && non_empty(&legacy.allowed_users, "allowed_users", sink) {
        let users = legacy.allowed_users.iter().map(|s| s.trim());
        criteria.push(Criterion::User(StringMatcher::one_of(
            users.clone(),
            Case::Sensitive,
        )));
        criteria.push(Criterion::Email(StringMatcher::one_of(
            users,
            Case::AsciiInsensitive,
        )));
    }
    if !legacy.allowed_domains.is_empty()
        && non_empty(&legacy.allowed_domains, "allowed_domains", sink)
    {
        let domains = legacy.allowed_domains.iter().map(|s| s.trim());
        criteria.push(Criterion::Domain(StringMatcher::one_of(
            domains,
            Case::AsciiInsensitive,
        )));
    }
    for (name, values) in &legacy.allowed_idp_claims {
        criteria.extend(claim(name, values, sink));
    }
    (!criteria.is_empty()).then(|| Operator {
        kind: OperatorKind::Or,
        criteria: criteria.into_boxed_slice(),
    })
}

fn non_empty(values: &[String], field: &str, sink: &mut Sink<'_>) -> bool {
    let empty = values.iter().position(|v| v.trim().is_empty());
    if let Some(i) = empty {
        sink.error_at(None, format_args!("{field}: entry {} is empty", i + 1));
    }
    empty.is_none()
}

fn claim(name: &str, values: &[serde_json::Value], sink: &mut Sink<'_>) -> Option<Criterion> {
    let mut sink = sink.nested("", format_args!("allowed_idp_claims: claim \"{name}\""));
    if name.trim().is_empty() {
        sink.error_at(None, "the claim name is empty");
        return None;
    }
    if values.is_empty() {
        sink.error_at(None, "lists no values, so it would never match");
        return None;
    }
    let mut list = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        match ListValue::from_json(value) {
            Some(v) => list.push(v),
            None => sink.error_at(
                None,
                format_args!(
                    "value {} is not a string, number or boolean (found {value})",
                    i + 1
                ),
            ),
        }
    }
    (list.len() == values.len())
        .then(|| Criterion::Claim(Claim::legacy(name, ListMatcher::has_any(list))))
}
