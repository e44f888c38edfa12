//! The list matcher: `has`, `is`, `exclude`, for lists such as groups or a list-valued claim.
//!
//! A bare scalar means `has`; a bare list means "has any of them" (how legacy
//! `allowed_idp_claims` reads). Keys are AND-ed.

use portcullis_yaml::{Node, NodeKind, Resolved};
use serde_json::Value;

use super::{scalar_list, scalar_text, unique_keys};
use crate::error::{Sink, did_you_mean};

/// One expected value. Written in YAML it may be a string, a number or a boolean; a JSON claim
/// matches it when it is the same string, the same number, or the same boolean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListValue {
    text: Box<str>,
    number: Option<f64>,
    boolean: Option<bool>,
}

/// Something a list holds: a group name, or a claim value.
pub(crate) trait ListItem {
    fn equals(&self, value: &ListValue) -> bool;
}

/// A compiled list matcher.
#[derive(Debug, Clone)]
pub(crate) struct ListMatcher {
    ops: Box<[ListOp]>,
}

#[derive(Debug, Clone)]
enum ListOp {
    Has(ListValue),
    HasAny(Box<[ListValue]>),
    Is(Box<[ListValue]>),
    Exclude(Box<[ListValue]>),
}

const OPERATORS: &[&str] = &["has", "is", "exclude"];

// === impl ListValue ===

impl ListValue {
    fn from_node(node: &Node) -> Option<ListValue> {
        let text = node.as_str()?;
        let (number, boolean) = match node.resolve() {
            Resolved::Int(i) => (Some(i as f64), None),
            Resolved::Float(f) => (Some(f), None),
            Resolved::Bool(b) => (None, Some(b)),
            Resolved::Null | Resolved::Str(_) => (None, None),
        };
        Some(ListValue {
            text: text.into(),
            number,
            boolean,
        })
    }

    /// A value from JSON (legacy `allowed_idp_claims`); `None` for null, lists and objects.
    pub(crate) fn from_json(value: &Value) -> Option<ListValue> {
        let (text, number, boolean) = match value {
            Value::String(s) => (s.clone(), None, None),
            Value::Number(n) => (n.to_string(), n.as_f64(), None),
            Value::Bool(b) => (b.to_string(), None, Some(*b)),
            Value::Null | Value::Array(_) | Value::Object(_) => return None,
        };
        Some(ListValue {
            text: text.into(),
            number,
            boolean,
        })
    }
}

impl ListItem for String {
    fn equals(&self, value: &ListValue) -> bool {
        **self == *value.text
    }
}

impl ListItem for Value {
    fn equals(&self, value: &ListValue) -> bool {
        match self {
            Value::String(s) => **s == *value.text,
            Value::Number(n) => value.number.is_some() && n.as_f64() == value.number,
            Value::Bool(b) => value.boolean == Some(*b),
            Value::Null | Value::Array(_) | Value::Object(_) => false,
        }
    }
}

// === impl ListMatcher ===

impl ListMatcher {
    /// Compiles a matcher written as a scalar, a list, or a mapping of operators.
    pub(crate) fn compile(node: &Node, sink: &mut Sink<'_>) -> Option<ListMatcher> {
        let ops = match &node.kind {
            NodeKind::Scalar { .. } => vec![ListOp::Has(ListValue::from_node(node)?)],
            NodeKind::Seq(_) => vec![ListOp::HasAny(values(node, sink)?)],
            NodeKind::Map(entries) => compile_operators(node, entries, sink)?,
            NodeKind::Null => {
                sink.expected(node, "a value or a list matcher (has, is, exclude)");
                return None;
            }
        };
        Some(ListMatcher {
            ops: ops.into_boxed_slice(),
        })
    }

    /// Holds when the list has any of `values` (legacy `allowed_idp_claims`).
    pub(crate) fn has_any(values: Vec<ListValue>) -> ListMatcher {
        ListMatcher {
            ops: Box::new([ListOp::HasAny(values.into_boxed_slice())]),
        }
    }

    /// True when every operator holds for `items`.
    pub(crate) fn matches<T: ListItem>(&self, items: &[T]) -> bool {
        self.ops.iter().all(|op| op.matches(items))
    }
}

fn compile_operators(
    node: &Node,
    entries: &[(Node, Node)],
    sink: &mut Sink<'_>,
) -> Option<Vec<ListOp>> {
    if entries.is_empty() {
        sink.error(
            node,
            "a list matcher needs at least one of has, is, exclude",
        );
        return None;
    }
    let before = sink.count();
    unique_keys(entries, sink);
    let mut ops = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Some(name) = scalar_text(key, sink) else {
            continue;
        };
        let mut sink = sink.nested(", ", format_args!("\"{name}\""));
        let op = match name {
            "has" => scalar_text(value, &mut sink)
                .and_then(|_| ListValue::from_node(value))
                .map(ListOp::Has),
            "is" => values(value, &mut sink).map(ListOp::Is),
            "exclude" => values(value, &mut sink).map(ListOp::Exclude),
            _ => {
                let hint = did_you_mean(name, OPERATORS)
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default();
                sink.error(
                    key,
                    format_args!(
                        "is not a list matcher operator ({hint}expected one of has, is, exclude)"
                    ),
                );
                None
            }
        };
        ops.extend(op);
    }
    (sink.count() == before).then_some(ops)
}

fn values(node: &Node, sink: &mut Sink<'_>) -> Option<Box<[ListValue]>> {
    let items = scalar_list(node, sink)?;
    Some(items.into_iter().filter_map(ListValue::from_node).collect())
}

// === impl ListOp ===

impl ListOp {
    fn matches<T: ListItem>(&self, items: &[T]) -> bool {
        let has = |v: &ListValue| items.iter().any(|item| item.equals(v));
        match self {
            ListOp::Has(v) => has(v),
            ListOp::HasAny(values) => values.iter().any(has),
            ListOp::Is(values) => {
                !items.is_empty()
                    && items
                        .iter()
                        .all(|item| values.iter().any(|v| item.equals(v)))
                    && values.iter().all(has)
            }
            ListOp::Exclude(values) => !values.iter().any(has),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::PolicyError;

    fn compile(yaml: &str) -> Result<ListMatcher, Vec<PolicyError>> {
        let node = Node::parse(yaml).unwrap();
        let mut errors = Vec::new();
        ListMatcher::compile(&node, &mut Sink::new(&mut errors, "m")).ok_or(errors)
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_operator_on_groups() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("admin", &["dev", "admin"], true),
            ("admin", &["dev"], false),
            ("admin", &[], false),
            ("{has: admin}", &["admin"], true),
            ("{has: admin}", &["Admin"], false),
            ("[ops, admin]", &["admin"], true),
            ("[ops, admin]", &["dev"], false),
            ("{is: admin}", &["admin"], true),
            ("{is: admin}", &["admin", "dev"], false),
            ("{is: [a, b]}", &["b", "a"], true),
            ("{is: [a, b]}", &["a"], false),
            ("{is: [a, b]}", &[], false),
            ("{exclude: contractors}", &["dev"], true),
            ("{exclude: contractors}", &[], true),
            ("{exclude: contractors}", &["dev", "contractors"], false),
            ("{exclude: [x, y]}", &["y"], false),
            ("{has: dev, exclude: contractors}", &["dev"], true),
            (
                "{has: dev, exclude: contractors}",
                &["dev", "contractors"],
                false,
            ),
        ];
        for (yaml, items, want) in cases {
            let got = compile(yaml).unwrap().matches(&groups(items));
            assert_eq!(got, *want, "{yaml} against {items:?}");
        }
    }

    #[test]
    fn json_items_compare_by_type() {
        let items = [json!("admin"), json!(42), json!(true), json!(null)];
        assert!(compile("admin").unwrap().matches(&items));
        assert!(compile("42").unwrap().matches(&items));
        assert!(compile("42.0").unwrap().matches(&items));
        assert!(compile("true").unwrap().matches(&items));
        assert!(!compile("'42'").unwrap().matches(&items));
        assert!(!compile("'true'").unwrap().matches(&items));
        assert!(compile("'42'").unwrap().matches(&[json!("42")]));
        let legacy = ListMatcher::has_any(
            [json!("x"), json!(7)]
                .iter()
                .filter_map(ListValue::from_json)
                .collect(),
        );
        // A string claim is compared with the value as written, so 7 matches "7" too.
        assert!(legacy.matches(&[json!(7)]) && legacy.matches(&[json!("7")]));
        assert!(!legacy.matches(&[json!(8)]) && !legacy.matches(&[json!("X")]));
    }

    #[test]
    fn errors_name_the_operator() {
        let errors = compile("{contains: a, has: [a, b]}").unwrap_err();
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "m, \"contains\": is not a list matcher operator (expected one of has, is, exclude)",
                "m, \"has\": expected a string, found a list",
            ]
        );
        assert!(
            compile("{exclud: a}").unwrap_err()[0]
                .message
                .contains("did you mean \"exclude\"")
        );
        assert!(compile("{}").is_err() && compile("~").is_err() && compile("[]").is_err());
    }
}
