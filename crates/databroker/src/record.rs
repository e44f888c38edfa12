//! Domain types of the databroker: records, versions, options, queries.
//!
//! These know nothing of prost messages; `convert.rs` maps them to the wire.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A record's payload: a protobuf message, as `google.protobuf.Any` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Data {
    /// `type.googleapis.com/<full message name>`.
    pub type_url: String,
    /// The encoded message.
    pub value: Vec<u8>,
}

/// One versioned record, keyed by `(kind, id)`.
///
/// `kind` is the proto field `type`. A record with `deleted_at` set is a
/// tombstone: it only ever appears in change streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record type (e.g. `session`).
    pub kind: String,
    /// The id, unique within the type.
    pub id: String,
    /// Assigned by the server from one strictly increasing sequence.
    pub version: u64,
    /// The payload.
    pub data: Data,
    /// When the server stored this version.
    pub modified_at: SystemTime,
    /// Set on tombstones.
    pub deleted_at: Option<SystemTime>,
}

/// A record to write: a put, or a delete when `delete` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWrite {
    /// The record type.
    pub kind: String,
    /// The id within the type.
    pub id: String,
    /// The payload (may be empty for deletes).
    pub data: Data,
    /// Delete the record instead of storing it.
    pub delete: bool,
}

/// The storage epoch and how far it has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Versions {
    /// Identifies the storage epoch. A change means every replica restarts.
    pub server_version: u64,
    /// The highest record version written so far (0 when none).
    pub latest_record_version: u64,
}

/// Per-type retention options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeOptions {
    /// Records older than this (by `modified_at`) are deleted.
    pub ttl: Option<Duration>,
    /// At most this many records are kept; the oldest versions go first.
    pub capacity: Option<u64>,
}

/// An equality filter: `id` or an indexed field (see [`crate::index`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `id` or an indexed field name.
    pub field: String,
    /// The value it must equal.
    pub value: String,
}

/// A query over the live records of one type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The type to search.
    pub kind: String,
    /// All must match.
    pub filters: Vec<Filter>,
    /// Skip this many matches (in version order).
    pub offset: u64,
    /// Return at most this many; `None` means [`Query::DEFAULT_LIMIT`].
    pub limit: Option<u64>,
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryPage {
    /// The matching records of this page, in version order.
    pub records: Vec<Record>,
    /// All matches, ignoring offset and limit.
    pub total_count: u64,
    /// The versions the page was read at.
    pub versions: Versions,
}

/// The id of a held lease, needed to renew or release it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseId(pub String);

// === impl Record ===

impl Record {
    /// Whether this is a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

// === impl RecordWrite ===

impl RecordWrite {
    /// A put of `data` under `(kind, id)`.
    pub fn put(kind: impl Into<String>, id: impl Into<String>, data: Data) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            data,
            delete: false,
        }
    }

    /// A delete of `(kind, id)`.
    pub fn delete(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            data: Data::default(),
            delete: true,
        }
    }
}

// === impl Query ===

impl Query {
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: u64 = 1_000;
    /// The largest page served.
    pub const MAX_LIMIT: u64 = 10_000;

    /// The page size to use.
    pub fn effective_limit(&self) -> u64 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }
}

/// A shared record in a set keyed by its id (the id is not stored twice): an in-process
/// store's live records, whose allocation its change log shares.
#[derive(Debug, Clone)]
pub(crate) struct Keyed(pub(crate) Arc<Record>);

impl Deref for Keyed {
    type Target = Record;

    fn deref(&self) -> &Record {
        &self.0
    }
}

impl Borrow<str> for Keyed {
    fn borrow(&self) -> &str {
        &self.0.id
    }
}

impl Hash for Keyed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash as the `str` it borrows as.
        self.0.id.as_str().hash(state);
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Keyed {}

/// Keeps the last write of each `(kind, id)` in a batch, in order of last
/// appearance: one version per key per batch.
pub(crate) fn dedupe(writes: Vec<RecordWrite>) -> Vec<RecordWrite> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<RecordWrite> = writes
        .into_iter()
        .rev()
        .filter(|w| seen.insert((w.kind.clone(), w.id.clone())))
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_last_write_per_key() {
        let data = |v: u8| Data {
            type_url: "t".into(),
            value: vec![v],
        };
        let out = dedupe(vec![
            RecordWrite::put("a", "1", data(1)),
            RecordWrite::put("a", "2", data(2)),
            RecordWrite::put("a", "1", data(3)),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id, "2");
        assert_eq!(out[1].data.value, vec![3]);
    }
}
