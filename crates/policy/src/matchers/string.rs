//! The string matcher: `is`, `contains`, `starts_with`, `ends_with`, `not`, `in`, `not_in`.
//!
//! A bare scalar means `is`; a bare list means `in` (any of). Keys are AND-ed. Values are
//! normalised at compile time (lower-cased for case-insensitive criteria, `in` lists sorted),
//! so matching is a comparison or a binary search.

use std::cmp::Ordering;

use portcullis_yaml::{Node, NodeKind};

use super::{scalar_list, scalar_text, unique_keys};
use crate::error::{Sink, did_you_mean};

/// Whether a matcher compares ASCII letters case-insensitively (emails, domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Sensitive,
    AsciiInsensitive,
}

/// A compiled string matcher.
#[derive(Debug, Clone)]
pub(crate) struct StringMatcher {
    ops: Box<[StringOp]>,
    case: Case,
}

#[derive(Debug, Clone)]
enum StringOp {
    Is(Box<str>),
    Not(Box<str>),
    Contains(Box<str>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    /// Sorted (by the matcher's case rule) and deduplicated.
    In(Box<[Box<str>]>),
    NotIn(Box<[Box<str>]>),
}

const OPERATORS: &[&str] = &[
    "is",
    "contains",
    "starts_with",
    "ends_with",
    "not",
    "in",
    "not_in",
];

// === impl StringMatcher ===

impl StringMatcher {
    /// Compiles a matcher written as a scalar, a list, or a mapping of operators.
    pub(crate) fn compile(node: &Node, case: Case, sink: &mut Sink<'_>) -> Option<StringMatcher> {
        let ops = match &node.kind {
            NodeKind::Scalar { text, .. } => vec![StringOp::Is(normalize(text, case))],
            NodeKind::Seq(_) => vec![StringOp::In(sorted_list(node, case, sink)?)],
            NodeKind::Map(entries) => compile_operators(node, entries, case, sink)?,
            NodeKind::Null => {
                sink.expected(node, "a string or a string matcher");
                return None;
            }
        };
        Some(StringMatcher {
            ops: ops.into_boxed_slice(),
            case,
        })
    }

    /// Matches any of `values` (legacy `allowed_users`, `allowed_domains`).
    pub(crate) fn one_of<'v>(values: impl IntoIterator<Item = &'v str>, case: Case) -> Self {
        let mut list: Vec<Box<str>> = values.into_iter().map(|v| normalize(v, case)).collect();
        sort_dedup(&mut list, case);
        StringMatcher {
            ops: Box::new([StringOp::In(list.into_boxed_slice())]),
            case,
        }
    }

    /// True when every operator holds for `s`.
    pub(crate) fn matches(&self, s: &str) -> bool {
        self.ops.iter().all(|op| op.matches(s, self.case))
    }
}

fn compile_operators(
    node: &Node,
    entries: &[(Node, Node)],
    case: Case,
    sink: &mut Sink<'_>,
) -> Option<Vec<StringOp>> {
    if entries.is_empty() {
        sink.error(
            node,
            format_args!(
                "a string matcher needs at least one of {}",
                OPERATORS.join(", ")
            ),
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
        let one = |sink: &mut Sink<'_>| scalar_text(value, sink).map(|t| normalize(t, case));
        let op = match name {
            "is" => one(&mut sink).map(StringOp::Is),
            "not" => one(&mut sink).map(StringOp::Not),
            "contains" => one(&mut sink).map(StringOp::Contains),
            "starts_with" => one(&mut sink).map(StringOp::StartsWith),
            "ends_with" => one(&mut sink).map(StringOp::EndsWith),
            "in" => sorted_list(value, case, &mut sink).map(StringOp::In),
            "not_in" => sorted_list(value, case, &mut sink).map(StringOp::NotIn),
            _ => {
                unknown_operator(key, name, &mut sink);
                None
            }
        };
        ops.extend(op);
    }
    (sink.count() == before).then_some(ops)
}

fn unknown_operator(key: &Node, name: &str, sink: &mut Sink<'_>) {
    let hint = did_you_mean(name, OPERATORS)
        .map(|s| format!("did you mean \"{s}\"? "))
        .unwrap_or_default();
    sink.error(
        key,
        format_args!(
            "is not a string matcher operator ({hint}expected one of {})",
            OPERATORS.join(", ")
        ),
    );
}

/// A list of strings (a single scalar is accepted as a list of one), sorted and deduplicated.
fn sorted_list(node: &Node, case: Case, sink: &mut Sink<'_>) -> Option<Box<[Box<str>]>> {
    let items = scalar_list(node, sink)?;
    let mut list: Vec<Box<str>> = items
        .iter()
        .filter_map(|n| n.as_str())
        .map(|t| normalize(t, case))
        .collect();
    sort_dedup(&mut list, case);
    Some(list.into_boxed_slice())
}

fn normalize(text: &str, case: Case) -> Box<str> {
    match case {
        Case::Sensitive => text.into(),
        Case::AsciiInsensitive => text.to_ascii_lowercase().into(),
    }
}

fn sort_dedup(list: &mut Vec<Box<str>>, case: Case) {
    list.sort_by(|a, b| compare(a, b, case));
    list.dedup_by(|a, b| compare(a, b, case) == Ordering::Equal);
}

// === impl StringOp ===

impl StringOp {
    fn matches(&self, s: &str, case: Case) -> bool {
        match self {
            StringOp::Is(v) => equals(s, v, case),
            StringOp::Not(v) => !equals(s, v, case),
            StringOp::Contains(v) => contains(s, v, case),
            StringOp::StartsWith(v) => s
                .as_bytes()
                .get(..v.len())
                .is_some_and(|head| bytes_equal(head, v.as_bytes(), case)),
            StringOp::EndsWith(v) => s
                .len()
                .checked_sub(v.len())
                .is_some_and(|at| bytes_equal(&s.as_bytes()[at..], v.as_bytes(), case)),
            StringOp::In(list) => in_sorted(list, s, case),
            StringOp::NotIn(list) => !in_sorted(list, s, case),
        }
    }
}

fn equals(a: &str, b: &str, case: Case) -> bool {
    bytes_equal(a.as_bytes(), b.as_bytes(), case)
}

fn bytes_equal(a: &[u8], b: &[u8], case: Case) -> bool {
    match case {
        Case::Sensitive => a == b,
        Case::AsciiInsensitive => a.eq_ignore_ascii_case(b),
    }
}

fn contains(haystack: &str, needle: &str, case: Case) -> bool {
    match case {
        Case::Sensitive => haystack.contains(needle),
        Case::AsciiInsensitive => {
            needle.is_empty()
                || haystack
                    .as_bytes()
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        }
    }
}

fn compare(a: &str, b: &str, case: Case) -> Ordering {
    match case {
        Case::Sensitive => a.cmp(b),
        Case::AsciiInsensitive => a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
    }
}

/// Short lists are scanned (a length check rejects most entries at once); long ones, such as
/// a legacy `allowed_users` of thousands, are binary-searched.
fn in_sorted(list: &[Box<str>], s: &str, case: Case) -> bool {
    if list.len() <= 16 {
        list.iter().any(|v| equals(s, v, case))
    } else {
        list.binary_search_by(|v| compare(v, s, case)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use portcullis_yaml::Node;

    use super::*;
    use crate::error::PolicyError;

    fn compile(yaml: &str, case: Case) -> Result<StringMatcher, Vec<PolicyError>> {
        let node = Node::parse(yaml).unwrap();
        let mut errors = Vec::new();
        let matcher = StringMatcher::compile(&node, case, &mut Sink::new(&mut errors, "m"));
        matcher.ok_or(errors)
    }

    fn check(yaml: &str, case: Case, yes: &[&str], no: &[&str]) {
        let m = compile(yaml, case).unwrap();
        for s in yes {
            assert!(m.matches(s), "{yaml} should match {s:?}");
        }
        for s in no {
            assert!(!m.matches(s), "{yaml} should not match {s:?}");
        }
    }

    #[test]
    fn every_operator() {
        use Case::Sensitive as S;
        check("abc", S, &["abc"], &["ab", "abcd", "ABC"]);
        check("12", S, &["12"], &["12.0"]);
        check("{is: abc}", S, &["abc"], &["xabc"]);
        check("{not: abc}", S, &["abd", ""], &["abc"]);
        check("{contains: b}", S, &["abc", "b"], &["ac", ""]);
        check("{starts_with: ab}", S, &["abc", "ab"], &["a", "cab"]);
        check("{ends_with: bc}", S, &["abc", "bc"], &["c", "bca"]);
        check("{in: [b, a, c]}", S, &["a", "b", "c"], &["d", "A"]);
        check("{not_in: [a, b]}", S, &["c", ""], &["a", "b"]);
        check("[x, y]", S, &["x", "y"], &["z"]);
    }

    #[test]
    fn long_lists_are_searched_like_short_ones() {
        let many: Vec<String> = (0..40).map(|i| format!("User{i}@Example.com")).collect();
        for case in [Case::Sensitive, Case::AsciiInsensitive] {
            let m = StringMatcher::one_of(many.iter().map(String::as_str), case);
            assert!(m.matches("User17@Example.com") && m.matches("User0@Example.com"));
            assert!(m.matches("User39@Example.com") && !m.matches("User40@Example.com"));
            assert_eq!(
                m.matches("user17@example.COM"),
                case == Case::AsciiInsensitive
            );
        }
    }

    #[test]
    fn keys_are_and_ed() {
        check(
            "{starts_with: admin, ends_with: '@example.com', not: admin-bot@example.com}",
            Case::Sensitive,
            &["admin@example.com", "admin-ops@example.com"],
            &[
                "admin-bot@example.com",
                "admin@example.org",
                "ops@example.com",
            ],
        );
    }

    #[test]
    fn case_insensitive_matching_covers_every_operator() {
        use Case::AsciiInsensitive as I;
        check(
            "Bob@Example.COM",
            I,
            &["bob@example.com", "BOB@EXAMPLE.COM"],
            &["bob@example.org"],
        );
        check(
            "{contains: EXAMPLE}",
            I,
            &["a@example.com"],
            &["a@exampl.com"],
        );
        check("{starts_with: BoB}", I, &["bobby"], &["rob"]);
        check("{ends_with: .COM}", I, &["x.com"], &["x.org", "m"]);
        check(
            "{in: [A@X.IO, b@x.io]}",
            I,
            &["a@x.io", "B@X.IO"],
            &["c@x.io"],
        );
        check("{not_in: [A@X.IO]}", I, &["b@x.io"], &["a@X.io"]);
        let legacy = StringMatcher::one_of(["Z@x.io", "a@x.io", "z@X.io"], I);
        assert!(legacy.matches("z@x.io") && legacy.matches("A@X.IO") && !legacy.matches("q@x.io"));
    }

    #[test]
    fn errors_name_the_operator() {
        let errors = compile("{equals: a, in: {x: 1}}", Case::Sensitive).unwrap_err();
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "m, \"equals\": is not a string matcher operator (expected one of is, contains, \
                 starts_with, ends_with, not, in, not_in)",
                "m, \"in\": expected a string or a list of strings, found a mapping",
            ]
        );
        let errors = compile("{start_with: a}", Case::Sensitive).unwrap_err();
        assert!(errors[0].message.contains("did you mean \"starts_with\"?"));
        assert!(compile("{}", Case::Sensitive).is_err());
        assert!(compile("~", Case::Sensitive).is_err());
        assert!(compile("{is: a, is: b}", Case::Sensitive).is_err());
    }
}
