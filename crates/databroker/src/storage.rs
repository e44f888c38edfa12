//! The databroker API as one trait, and the backends that implement it.
//!
//! [`Storage`] is what every role programs against: in all-in-one mode it is
//! the in-process backend ([`memory::Memory`] or [`postgres::Postgres`]); in
//! split mode it is [`crate::client::Client`], which speaks gRPC to a remote
//! databroker. The gRPC service is a thin adapter over the same trait.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;

use crate::StorageError;
use crate::record::{LeaseId, Query, QueryPage, Record, RecordWrite, TypeOptions, Versions};

pub mod instrumented;
pub mod memory;
pub mod postgres;
pub(crate) mod sync;

/// A stream of records (a snapshot or a change stream).
pub type RecordStream = Pin<Box<dyn Stream<Item = Result<Record, StorageError>> + Send>>;

/// A consistent snapshot: every live record as of `versions`.
///
/// Continue with [`Storage::sync`] after `versions.latest_record_version`.
pub struct Snapshot {
    /// The versions the snapshot was taken at.
    pub versions: Versions,
    /// The live records, in no particular order.
    pub records: RecordStream,
}

/// The databroker API: versioned records, change streams, options, leases.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// One live record, `None` when absent or deleted.
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>, StorageError>;

    /// Writes a batch atomically, assigning each record a new version.
    /// Duplicate keys collapse to their last write. Returns the stored records
    /// (tombstones for deletes) in version order.
    async fn put(&self, writes: Vec<RecordWrite>) -> Result<Vec<Record>, StorageError>;

    /// Replaces the fields named by `paths` in each record's data with those
    /// of the given data. `NotFound` when a record does not exist.
    async fn patch(
        &self,
        writes: Vec<RecordWrite>,
        paths: Vec<String>,
    ) -> Result<Vec<Record>, StorageError>;

    /// Live records of one type matching every filter.
    async fn query(&self, query: Query) -> Result<QueryPage, StorageError>;

    /// Every type that has at least one live record, sorted.
    async fn list_types(&self) -> Result<Vec<String>, StorageError>;

    /// The server version and latest record version.
    async fn server_info(&self) -> Result<Versions, StorageError>;

    /// Sets a type's options; a smaller capacity or TTL applies at the next
    /// write or cleanup.
    async fn set_options(&self, kind: &str, options: TypeOptions) -> Result<(), StorageError>;

    /// A type's options (defaults when never set).
    async fn get_options(&self, kind: &str) -> Result<TypeOptions, StorageError>;

    /// Takes the lease `name` for `ttl` if nobody holds it (or the holder let
    /// it expire). `LeaseHeld` otherwise.
    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<LeaseId, StorageError>;

    /// Extends a held lease to `ttl` from now. `LeaseLost` when `id` no longer
    /// holds it.
    async fn renew_lease(
        &self,
        name: &str,
        id: &LeaseId,
        ttl: Duration,
    ) -> Result<(), StorageError>;

    /// Gives a lease up (no-op when `id` does not hold it).
    async fn release_lease(&self, name: &str, id: &LeaseId) -> Result<(), StorageError>;

    /// Every live record (of `kind`, or of all types) and the versions they
    /// are consistent with.
    async fn sync_latest(&self, kind: Option<&str>) -> Result<Snapshot, StorageError>;

    /// Every change (of `kind`, or of all types) after `after`, in version
    /// order, waiting for new ones forever. The stream ends with `Aborted`
    /// when `server_version` is not this storage's or the change log no
    /// longer reaches back to `after`.
    async fn sync(
        &self,
        server_version: u64,
        after: u64,
        kind: Option<&str>,
    ) -> Result<RecordStream, StorageError>;
}

/// Which backend to open.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageOptions {
    /// In memory: one replica, a new server version at every start.
    Memory,
    /// PostgreSQL (`databroker_storage_connection_string`): many replicas.
    Postgres {
        /// `postgres://user:password@host/db`; never logged.
        connection_string: String,
    },
}

impl fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Postgres { .. } => f
                .debug_struct("Postgres")
                .field("connection_string", &"[redacted]")
                .finish(),
        }
    }
}

/// Opens the configured backend: for Postgres this connects (retrying with
/// backoff for a while), runs migrations and starts the change listener and
/// the cleanup task.
pub async fn open_storage(options: &StorageOptions) -> Result<Arc<dyn Storage>, StorageError> {
    let (backend, storage): (&'static str, Arc<dyn Storage>) = match options {
        StorageOptions::Memory => ("memory", Arc::new(memory::Memory::new())),
        StorageOptions::Postgres { connection_string } => (
            "postgres",
            Arc::new(postgres::Postgres::connect(connection_string).await?),
        ),
    };
    Ok(Arc::new(instrumented::Instrumented::new(backend, storage)))
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}

/// Rejects writes without a type or id.
pub(crate) fn validate_writes(writes: &[RecordWrite]) -> Result<(), StorageError> {
    for w in writes {
        if w.kind.is_empty() || w.id.is_empty() {
            return Err(StorageError::InvalidArgument(
                "every record needs a type and an id".into(),
            ));
        }
    }
    Ok(())
}

/// A random positive 63-bit number (server versions, lease ids).
pub(crate) fn random_u63() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random generator failed");
    (u64::from_le_bytes(bytes) >> 1).max(1)
}
