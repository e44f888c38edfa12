//! Compile errors, and the collector that lets compilation report every one of them.

use std::fmt;

use portcullis_yaml::{Node, Origin};

/// A problem in a policy, with where it was written.
///
/// The message starts with where in the policy the problem is, e.g.
/// `rule 2, allow.or: criterion "emial" is not known (expected one of accept, ...)`;
/// [`PolicyError::origin`] holds the line. Legacy fields are named by their key
/// (`allowed_domains: ...`) and have no origin here (the config crate knows it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// Where the offending value was written.
    pub origin: Option<Origin>,
    /// Names the rule, action, operator and criterion at fault.
    pub message: String,
}

/// Collects errors under a location prefix ("rule 1, allow.or: criterion \"email\"").
pub(crate) struct Sink<'e> {
    errors: &'e mut Vec<PolicyError>,
    prefix: String,
}

// === impl PolicyError ===

impl PolicyError {
    /// The message with the origin in front (`line 4: rule 1, ...`), for people.
    pub fn located(&self) -> String {
        match &self.origin {
            Some(origin) => format!("{origin}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

// === impl Sink ===

impl<'e> Sink<'e> {
    pub(crate) fn new(errors: &'e mut Vec<PolicyError>, prefix: impl Into<String>) -> Sink<'e> {
        Sink {
            errors,
            prefix: prefix.into(),
        }
    }

    /// A sink whose messages say more about where: `prefix` + `sep` + `more`.
    pub(crate) fn nested(&mut self, sep: &str, more: impl fmt::Display) -> Sink<'_> {
        let prefix = if self.prefix.is_empty() {
            more.to_string()
        } else {
            format!("{}{sep}{more}", self.prefix)
        };
        Sink {
            errors: self.errors,
            prefix,
        }
    }

    /// Records a problem with `node`.
    pub(crate) fn error(&mut self, node: &Node, detail: impl fmt::Display) {
        self.push(Some(node.origin.clone()), detail);
    }

    /// Records a problem that has no node (legacy fields).
    pub(crate) fn error_at(&mut self, origin: Option<Origin>, detail: impl fmt::Display) {
        self.push(origin, detail);
    }

    /// Records "expected X, found Y" for `node`.
    pub(crate) fn expected(&mut self, node: &Node, what: &str) {
        self.error(
            node,
            format_args!("expected {what}, found {}", node.describe()),
        );
    }

    /// How many errors have been recorded so far (by every sink sharing the list).
    pub(crate) fn count(&self) -> usize {
        self.errors.len()
    }

    fn push(&mut self, origin: Option<Origin>, detail: impl fmt::Display) {
        let message = if self.prefix.is_empty() {
            detail.to_string()
        } else {
            format!("{}: {detail}", self.prefix)
        };
        self.errors.push(PolicyError { origin, message });
    }
}

/// The known name closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over bytes (names here are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let known = ["email", "domain", "groups"];
        assert_eq!(did_you_mean("emial", &known), Some("email"));
        assert_eq!(did_you_mean("group", &known), Some("groups"));
        assert_eq!(did_you_mean("colour", &known), None);
    }

    #[test]
    fn nested_prefixes_compose() {
        let mut errors = Vec::new();
        let mut top = Sink::new(&mut errors, "rule 1");
        let node = Node::string("x", Origin::Line(7));
        top.nested(", ", "allow.or").error(&node, "bad");
        assert_eq!(errors[0].message, "rule 1, allow.or: bad");
        assert_eq!(errors[0].located(), "line 7: rule 1, allow.or: bad");
    }
}
