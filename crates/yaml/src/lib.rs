//! YAML parsed into a tree that remembers where every value was written.
//!
//! Configuration errors must name the file line of the value that is wrong, and must all be
//! reported at once. Common YAML crates either stop at the first error or forget positions once
//! a document is parsed, so portcullis parses to a [`Node`] tree first and deserializes each key
//! from it with [`from_node`]; every [`DeError`] carries the [`Origin`] of the innermost value
//! that failed. Scalars resolve by the YAML 1.2 core schema (`yes` is a string, `true` a bool).

mod de;
mod node;

pub use de::{DeError, from_node};
pub use node::{Node, NodeKind, Origin, Resolved, YamlError};

#[cfg(test)]
mod tests;
