//! The tree: every value keeps the line it was written on.

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a value came from: a line of the configuration file, or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A 1-based line in the parsed text.
    Line(usize),
    /// The named environment variable (its value was parsed as YAML on its own).
    Env(String),
}

/// One YAML value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the value is.
    pub kind: NodeKind,
    /// Where it was written.
    pub origin: Origin,
}

/// The shape of a YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null`, or nothing at all.
    Null,
    /// A scalar. `plain` is true when it was written without quotes or block style, which is
    /// the only case where `true`, `12` or `1.5` mean a boolean or a number.
    Scalar {
        /// The text as written (after unescaping).
        text: String,
        /// Written without quotes.
        plain: bool,
    },
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, in the order written. Keys are usually scalars.
    Map(Vec<(Node, Node)>),
}

/// The text was not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid YAML at line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What the parser said.
    pub message: String,
}

// === impl Origin ===

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(line) => write!(f, "line {line}"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

// === impl Node ===

impl Node {
    /// Parses one YAML document (an empty text is `Null`). Anchors and aliases are resolved.
    pub fn parse(text: &str) -> Result<Node, YamlError> {
        let mut builder = Builder::default();
        Parser::new_from_str(text)
            .load(&mut builder, false)
            .map_err(|e| YamlError {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_owned(),
            })?;
        Ok(builder
            .done
            .unwrap_or_else(|| Node::new(NodeKind::Null, Origin::Line(1))))
    }

    /// Parses a value that came from an environment variable; every node's origin names it.
    pub fn parse_env(var: &str, text: &str) -> Result<Node, YamlError> {
        let mut node = Node::parse(text)?;
        node.set_origin(&Origin::Env(var.to_owned()));
        Ok(node)
    }

    /// A node of the given kind.
    pub fn new(kind: NodeKind, origin: Origin) -> Node {
        Node { kind, origin }
    }

    /// A plain string scalar, e.g. a value taken verbatim from an environment variable.
    pub fn string(text: impl Into<String>, origin: Origin) -> Node {
        Node::new(
            NodeKind::Scalar {
                text: text.into(),
                plain: false,
            },
            origin,
        )
    }

    fn set_origin(&mut self, origin: &Origin) {
        self.origin = origin.clone();
        match &mut self.kind {
            NodeKind::Seq(items) => items.iter_mut().for_each(|n| n.set_origin(origin)),
            NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.set_origin(origin);
                v.set_origin(origin);
            }),
            NodeKind::Null | NodeKind::Scalar { .. } => {}
        }
    }

    /// The 1-based line, when the node came from a file.
    pub fn line(&self) -> Option<usize> {
        match self.origin {
            Origin::Line(line) => Some(line),
            Origin::Env(_) => None,
        }
    }

    /// The scalar's text, whatever its style.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The mapping's entries.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The list's items.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// The value under a scalar key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of the node's shape for error messages ("a string", "a list", ...).
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Scalar { .. } => match self.resolve() {
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) | Resolved::Float(_) => "a number",
                Resolved::Null => "null",
                Resolved::Str(_) => "a string",
            },
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// What a scalar means under the YAML 1.2 core schema.
    pub fn resolve(&self) -> Resolved<'_> {
        match &self.kind {
            NodeKind::Scalar { text, plain: true } => resolve_plain(text),
            NodeKind::Scalar { text, plain: false } => Resolved::Str(text),
            _ => Resolved::Null,
        }
    }
}

/// A scalar's meaning under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false` (any case YAML 1.2 allows).
    Bool(bool),
    /// A decimal, `0x` or `0o` integer.
    Int(i64),
    /// A float, `.inf` or `.nan`.
    Float(f64),
    /// Anything else.
    Str(&'a str),
}

fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let number_like = |extra: &[u8]| {
        text.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || extra.contains(&b))
    };
    let parsed = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok().map(Resolved::Int)
    } else if let Some(oct) = text.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok().map(Resolved::Int)
    } else if number_like(b"") {
        text.parse::<i64>().ok().map(Resolved::Int)
    } else if text.bytes().any(|b| b.is_ascii_digit()) && number_like(b".eE") {
        text.parse::<f64>().ok().map(Resolved::Float)
    } else {
        None
    };
    if let Some(value) = parsed {
        return value;
    }
    Resolved::Str(text)
}

// === impl Builder ===

/// Turns parser events into a tree.
#[derive(Default)]
struct Builder {
    stack: Vec<(Node, Option<Node>, usize)>,
    anchors: HashMap<usize, Node>,
    done: Option<Node>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.done.is_none() {
                    self.done = Some(node);
                }
            }
            Some((parent, pending_key, _)) => match &mut parent.kind {
                NodeKind::Seq(items) => items.push(node),
                NodeKind::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                NodeKind::Null | NodeKind::Scalar { .. } => {}
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let origin = Origin::Line(mark.line().max(1));
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, TScalarStyle::Plain);
                let kind = if plain && matches!(resolve_plain(&text), Resolved::Null) {
                    NodeKind::Null
                } else {
                    NodeKind::Scalar { text, plain }
                };
                self.push_value(Node::new(kind, origin), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push((Node::new(NodeKind::Seq(Vec::new()), origin), None, anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push((Node::new(NodeKind::Map(Vec::new()), origin), None, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, _, anchor)) = self.stack.pop() {
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(anchor) => {
                let node = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .unwrap_or_else(|| Node::new(NodeKind::Null, origin));
                self.push_value(node, 0);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}
