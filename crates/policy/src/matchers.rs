//! Matchers: how a criterion compares what it was given with what the request carries.
//!
//! String matchers (`is`, `contains`, `starts_with`, `ends_with`, `not`, `in`, `not_in`) test
//! one string; list matchers (`has`, `is`, `exclude`) test a list such as the user's groups.
//! Several keys in one matcher must all hold.

mod list;
mod string;

pub(crate) use list::{ListMatcher, ListValue};
pub(crate) use string::{Case, StringMatcher};

use portcullis_yaml::{Node, NodeKind};

use crate::error::Sink;

/// The text of a scalar (`12` and `true` count, as written); `None` after reporting otherwise.
pub(crate) fn scalar_text<'n>(node: &'n Node, sink: &mut Sink<'_>) -> Option<&'n str> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => Some(text),
        _ => {
            sink.expected(node, "a string");
            None
        }
    }
}

/// A scalar, or each item of a list of scalars.
pub(crate) fn scalar_list<'n>(node: &'n Node, sink: &mut Sink<'_>) -> Option<Vec<&'n Node>> {
    match &node.kind {
        NodeKind::Scalar { .. } => Some(vec![node]),
        NodeKind::Seq(items) if !items.is_empty() => {
            let before = sink.count();
            for item in items {
                scalar_text(item, sink);
            }
            (sink.count() == before).then(|| items.iter().collect())
        }
        NodeKind::Seq(_) => {
            sink.error(node, "expected at least one value, found an empty list");
            None
        }
        NodeKind::Null | NodeKind::Map(_) => {
            sink.expected(node, "a string or a list of strings");
            None
        }
    }
}

/// Reports keys that appear more than once in a mapping; true when there were none.
pub(crate) fn unique_keys(entries: &[(Node, Node)], sink: &mut Sink<'_>) -> bool {
    let mut ok = true;
    for (i, (key, _)) in entries.iter().enumerate() {
        let Some(name) = key.as_str() else { continue };
        if entries[..i].iter().any(|(k, _)| k.as_str() == Some(name)) {
            sink.error(key, format_args!("\"{name}\" appears more than once"));
            ok = false;
        }
    }
    ok
}
