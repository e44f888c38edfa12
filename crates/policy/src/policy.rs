//! A compiled policy and its evaluation.
//!
//! Evaluation follows Pomerium: every criterion of an operator is evaluated (so the reasons are
//! complete), an operator that holds reports the reasons of the criteria that made it hold, one
//! that fails reports those that made it fail, and an action reports the union over its
//! deciding operators. Nothing allocates.

use std::sync::Arc;

use crate::compile::{Compiled, Operator, OperatorKind};
use crate::error::PolicyError;
use crate::input::Input;
use crate::reasons::{Reason, Reasons};

/// A compiled policy: cheap to clone (an `Arc`), shareable across threads, evaluated without
/// allocating. The default policy denies everything.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    inner: Arc<Compiled>,
}

/// The outcome of evaluating a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// True when some `allow` holds and no `deny` holds.
    pub allow: bool,
    /// Denied, and signing in could change that: a criterion that needs a user found none
    /// (`user-unauthenticated`). Answer 401 / redirect to sign-in rather than 403.
    pub requires_login: bool,
    /// True when a `deny` rule matched (rather than no `allow` rule matching).
    pub deny_matched: bool,
    /// Why: the matching `deny`'s reasons, else the `allow` side's reasons.
    pub reasons: Reasons,
}

// === impl Policy ===

impl Policy {
    pub(crate) fn new(compiled: Compiled) -> Policy {
        Policy {
            inner: Arc::new(compiled),
        }
    }

    /// Parses and compiles a policy written in YAML or JSON (no legacy fields): a shortcut
    /// for tests and tools. Errors are as for [`crate::compile`], plus YAML syntax errors.
    pub fn parse(text: &str) -> Result<Policy, Vec<PolicyError>> {
        crate::compile::compile_text(text)
    }

    /// True when the policy has no `allow` operator, so it denies everything.
    pub fn denies_all(&self) -> bool {
        self.inner.allow.is_empty()
    }

    /// Decides `input`. Never panics and never allocates.
    pub fn evaluate(&self, input: &Input<'_>) -> Decision {
        let (denied, deny_reasons) = action(&self.inner.deny, input);
        if denied {
            return Decision {
                allow: false,
                requires_login: deny_reasons.contains(Reason::UserUnauthenticated),
                deny_matched: true,
                reasons: deny_reasons,
            };
        }
        let (allowed, reasons) = action(&self.inner.allow, input);
        Decision {
            allow: allowed,
            requires_login: !allowed && reasons.contains(Reason::UserUnauthenticated),
            deny_matched: false,
            reasons,
        }
    }
}

/// The operators of one action are alternatives.
fn action(operators: &[Operator], input: &Input<'_>) -> (bool, Reasons) {
    let (mut held, mut failed) = (Reasons::EMPTY, Reasons::EMPTY);
    let mut any = false;
    for op in operators {
        let (ok, reasons) = operator(op, input);
        any |= ok;
        if ok {
            held = held.union(reasons);
        } else {
            failed = failed.union(reasons);
        }
    }
    (any, if any { held } else { failed })
}

fn operator(op: &Operator, input: &Input<'_>) -> (bool, Reasons) {
    let negate = matches!(op.kind, OperatorKind::Not | OperatorKind::Nor);
    let (mut held, mut failed) = (Reasons::EMPTY, Reasons::EMPTY);
    let (mut all, mut any) = (true, false);
    for criterion in &op.criteria {
        let (ok, reason) = criterion.evaluate(input);
        if ok != negate {
            held.insert(reason);
            any = true;
        } else {
            failed.insert(reason);
            all = false;
        }
    }
    let ok = match op.kind {
        OperatorKind::And | OperatorKind::Not => all && any,
        OperatorKind::Or | OperatorKind::Nor => any,
    };
    (ok, if ok { held } else { failed })
}

// === impl Decision ===

impl Decision {
    /// `allow` or `deny`.
    pub fn verdict(&self) -> &'static str {
        if self.allow { "allow" } else { "deny" }
    }
}

#[cfg(test)]
mod tests;
