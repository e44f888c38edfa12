//! The structure of a policy: rules → actions (`allow`, `deny`) → operators (`and`, `or`,
//! `not`, `nor`) → criteria. Compiling walks the YAML tree once, reports every problem with the
//! rule, action, operator and criterion it is in, and flattens the result into two lists of
//! operators: all `allow` operators are alternatives, and so are all `deny` operators.

use portcullis_yaml::{Node, NodeKind, Origin};

use crate::criteria::Criterion;
use crate::error::{PolicyError, Sink, did_you_mean};
use crate::legacy::{self, LegacyRules};
use crate::matchers::unique_keys;
use crate::policy::Policy;

/// A compiled policy: allowed iff some `allow` operator holds and no `deny` operator holds.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    pub(crate) allow: Vec<Operator>,
    pub(crate) deny: Vec<Operator>,
}

/// A logical operator over a non-empty list of criteria.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub(crate) kind: OperatorKind,
    pub(crate) criteria: Box<[Criterion]>,
}

/// `and`: all hold. `or`: some holds. `not`: none holds. `nor`: not all hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperatorKind {
    And,
    Or,
    Not,
    Nor,
}

const OPERATORS: &[&str] = &["and", "or", "not", "nor"];

/// Compiles a route's `policy` (YAML or JSON, one rule or a list of rules) together with its
/// legacy allow fields, which are OR-ed with the policy's `allow` rules.
///
/// Every problem is reported, each naming the rule (1-based), action, operator and criterion,
/// with the origin of the offending node. A missing policy with no legacy fields compiles to a
/// policy that denies everything.
pub fn compile(policy: Option<&Node>, legacy: &LegacyRules) -> Result<Policy, Vec<PolicyError>> {
    let mut errors = Vec::new();
    let mut compiled = Compiled::default();
    if let Some(node) = policy {
        rules(node, &mut compiled, &mut errors);
    }
    compiled
        .allow
        .extend(legacy::compile(legacy, &mut Sink::new(&mut errors, "")));
    if errors.is_empty() {
        Ok(Policy::new(compiled))
    } else {
        Err(errors)
    }
}

/// Parses `text` as YAML (or JSON) and compiles it, without legacy fields.
pub(crate) fn compile_text(text: &str) -> Result<Policy, Vec<PolicyError>> {
    let node = Node::parse(text).map_err(|e| {
        vec![PolicyError {
            origin: Some(Origin::Line(e.line)),
            message: e.to_string(),
        }]
    })?;
    compile(Some(&node), &LegacyRules::default())
}

fn rules(node: &Node, out: &mut Compiled, errors: &mut Vec<PolicyError>) {
    match &node.kind {
        NodeKind::Null => {}
        NodeKind::Map(_) => rule(1, node, out, errors),
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                rule(i + 1, item, out, errors);
            }
        }
        NodeKind::Scalar { .. } => Sink::new(errors, "policy").expected(
            node,
            "a rule (a mapping with allow and/or deny) or a list of rules",
        ),
    }
}

fn rule(index: usize, node: &Node, out: &mut Compiled, errors: &mut Vec<PolicyError>) {
    let mut sink = Sink::new(errors, format!("rule {index}"));
    let Some(entries) = node.as_map() else {
        sink.expected(node, "a mapping with allow and/or deny");
        return;
    };
    if entries.is_empty() {
        sink.error(node, "has neither allow nor deny");
    }
    unique_keys(entries, &mut sink);
    for (key, value) in entries {
        let name = key.as_str().unwrap_or_default();
        let list = match name {
            "allow" => &mut out.allow,
            "deny" => &mut out.deny,
            _ => {
                let hint = did_you_mean(name, &["allow", "deny"])
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                sink.error(
                    key,
                    format_args!("action \"{name}\" is not known ({hint}expected allow or deny)"),
                );
                continue;
            }
        };
        list.extend(action(value, &mut sink.nested(", ", name)));
    }
}

fn action(value: &Node, sink: &mut Sink<'_>) -> Vec<Operator> {
    let Some(entries) = value.as_map() else {
        sink.expected(value, "a mapping of operators (and, or, not, nor)");
        return Vec::new();
    };
    unique_keys(entries, sink);
    let mut operators = Vec::with_capacity(entries.len());
    for (key, criteria) in entries {
        let name = key.as_str().unwrap_or_default();
        let kind = match name {
            "and" => OperatorKind::And,
            "or" => OperatorKind::Or,
            "not" => OperatorKind::Not,
            "nor" => OperatorKind::Nor,
            _ => {
                let hint = did_you_mean(name, OPERATORS)
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                sink.error(
                    key,
                    format_args!(
                        "operator \"{name}\" is not known ({hint}expected and, or, not or nor)"
                    ),
                );
                continue;
            }
        };
        let criteria = operator(criteria, &mut sink.nested(".", name));
        // An empty operator decides nothing (as in Pomerium): it is left out rather than
        // read as "all of nothing holds".
        if !criteria.is_empty() {
            operators.push(Operator {
                kind,
                criteria: criteria.into_boxed_slice(),
            });
        }
    }
    operators
}

fn operator(value: &Node, sink: &mut Sink<'_>) -> Vec<Criterion> {
    let Some(items) = value.as_seq() else {
        sink.expected(value, "a list of criteria");
        return Vec::new();
    };
    let mut criteria = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_map() {
            Some([(key, value)]) => criteria.extend(Criterion::compile(key, value, sink)),
            Some(entries) if entries.len() > 1 => {
                let names: Vec<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
                sink.error(
                    item,
                    format_args!(
                        "criterion {} has {} keys ({}); write each criterion as its own list item",
                        i + 1,
                        entries.len(),
                        names.join(", ")
                    ),
                );
            }
            _ => sink.error(
                item,
                format_args!(
                    "criterion {}: expected a mapping with one criterion (e.g. `- email: \
                     {{is: a@example.com}}`), found {}",
                    i + 1,
                    item.describe()
                ),
            ),
        }
    }
    criteria
}

#[cfg(test)]
mod tests;
