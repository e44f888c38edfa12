//! The PostgreSQL backend: many databroker replicas share one database.
//!
//! # Layout
//! Everything lives in the schema `portcullis` (see `schema.rs`): `records`
//! (the live records), `changes` (the change log: one row per version,
//! tombstones included), `server_info` (the storage epoch and the change-log
//! floor), `options`, `leases`, and the sequence `record_version`.
//! A write inserts the record and its change in one statement.
//!
//! # Why change streams can never miss or reorder a change
//! Versions come from a sequence, and sequences are not transactional: two
//! concurrent writers could take versions 7 and 8 and commit 8 first. A reader
//! that saw 8 and moved its cursor past it would never see 7. We rule this out
//! by *serialising writers*: every writing transaction first takes a
//! transaction-scoped advisory lock ([`WRITE_LOCK`]) and only then takes
//! versions. The lock is released at commit, after the transaction has become
//! visible to new snapshots (Postgres removes a committing transaction from
//! the proc array before it releases its locks). Hence a transaction holding
//! version N+k starts taking versions only after every transaction holding a
//! version ≤ N has committed (or rolled back, leaving a harmless gap) and is
//! visible. So any snapshot that sees a change sees every change with a lower
//! version: a reader that pages through `changes WHERE version > cursor ORDER
//! BY version` always sees a gap-free prefix, and can safely advance.
//!
//! We chose this over tracking `pg_snapshot_xmin` against per-change `xid8`
//! (letting writers run concurrently) because it is simple to reason about
//! and to test, and the price is bounded: writers are serialised per
//! transaction, not per record, so batched puts still reach well over the
//! 5,000 records/s target (see `benches/README.md`). Reads never take the
//! lock.
//!
//! # Waking subscribers
//! Every write transaction sends `NOTIFY portcullis_changes`; every replica
//! `LISTEN`s (`listen.rs`) and wakes its local `Sync` streams, which also
//! re-check every few seconds in case a notification was lost while the
//! listener reconnected.
//!
//! # Outages
//! The pool reconnects on demand; calls fail with `Unavailable` while
//! Postgres is away, `Sync` streams retry with backoff, and the listener
//! reconnects with backoff and then wakes everyone (notifications sent
//! meanwhile are lost, so every stream re-reads).
//!
//! # Cleanup
//! Every replica periodically (`cleanup.rs`) deletes records past their
//! type's TTL (writing tombstones, under the write lock) and trims the change
//! log to [`CHANGE_RETENTION`], raising `change_floor` in the same
//! transaction so a subscriber further behind gets `Aborted`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::watch;

use super::sync::{Backoff, ChangeSource, change_stream, error_chain};
use super::{RecordStream, Snapshot, Storage};
use crate::StorageError;
use crate::record::{LeaseId, Query, QueryPage, Record, RecordWrite, TypeOptions, Versions};

mod cleanup;
mod lease;
mod listen;
mod read;
mod schema;
mod write;

/// The advisory lock every writing transaction holds: see the module docs.
pub const WRITE_LOCK: i64 = 0x706f_7274_6375_6c01;
/// How long the change log keeps changes.
pub const CHANGE_RETENTION: Duration = Duration::from_secs(60 * 60);
/// Give up connecting at start after this long.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// The PostgreSQL backend. Cheap to clone.
#[derive(Clone)]
pub struct Postgres {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pool: PgPool,
    wake: watch::Sender<u64>,
    /// Dropped with the last handle: stops the listener and cleanup tasks.
    stop: watch::Sender<()>,
}

// === impl Postgres ===

impl Postgres {
    /// Connects (retrying with backoff for up to 30 s), runs migrations and
    /// starts the change listener and cleanup tasks.
    pub async fn connect(connection_string: &str) -> Result<Self, StorageError> {
        // The parse error may quote the string (and its password): not shown.
        let options = PgConnectOptions::from_str(connection_string).map_err(|_| {
            StorageError::InvalidArgument("invalid postgres connection string".into())
        })?;
        let pool_options = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5));
        let deadline = tokio::time::Instant::now() + CONNECT_DEADLINE;
        let mut backoff = Backoff::default();
        let pool = loop {
            let pool = pool_options.clone().connect_with(options.clone()).await;
            match pool {
                Ok(pool) => match schema::migrate(&pool).await {
                    Ok(()) => break pool,
                    Err(error) if error.is_transient() => {
                        tracing::warn!(error = %error_chain(&error), "migrating postgres failed")
                    }
                    Err(error) => return Err(error),
                },
                Err(error) => {
                    let error = StorageError::from(error);
                    if !error.is_transient() || tokio::time::Instant::now() >= deadline {
                        return Err(error);
                    }
                    tracing::warn!(error = %error_chain(&error), "connecting to postgres failed; retrying");
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        };
        let inner = Arc::new(Inner {
            pool,
            wake: watch::Sender::new(0),
            stop: watch::Sender::new(()),
        });
        tokio::spawn(listen::run(
            inner.pool.clone(),
            inner.wake.clone(),
            inner.stop.subscribe(),
        ));
        tokio::spawn(cleanup::run(inner.pool.clone(), inner.stop.subscribe()));
        Ok(Self { inner })
    }
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's options hold the password: never printed.
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ChangeSource for Inner {
    async fn changes(
        &self,
        server_version: u64,
        after: u64,
        kind: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StorageError> {
        read::changes(&self.pool, server_version, after, kind, limit).await
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}

#[async_trait::async_trait]
impl Storage for Postgres {
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>, StorageError> {
        read::get(&self.inner.pool, kind, id).await
    }

    async fn put(&self, writes: Vec<RecordWrite>) -> Result<Vec<Record>, StorageError> {
        write::put(&self.inner.pool, writes).await
    }

    async fn patch(
        &self,
        writes: Vec<RecordWrite>,
        paths: Vec<String>,
    ) -> Result<Vec<Record>, StorageError> {
        write::patch(&self.inner.pool, writes, &paths).await
    }

    async fn query(&self, query: Query) -> Result<QueryPage, StorageError> {
        read::query(&self.inner.pool, &query).await
    }

    async fn list_types(&self) -> Result<Vec<String>, StorageError> {
        read::list_types(&self.inner.pool).await
    }

    async fn server_info(&self) -> Result<Versions, StorageError> {
        read::versions(&self.inner.pool).await
    }

    async fn set_options(&self, kind: &str, options: TypeOptions) -> Result<(), StorageError> {
        write::set_options(&self.inner.pool, kind, options).await
    }

    async fn get_options(&self, kind: &str) -> Result<TypeOptions, StorageError> {
        read::options(&self.inner.pool, kind).await
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<LeaseId, StorageError> {
        lease::acquire(&self.inner.pool, name, ttl).await
    }

    async fn renew_lease(
        &self,
        name: &str,
        id: &LeaseId,
        ttl: Duration,
    ) -> Result<(), StorageError> {
        lease::renew(&self.inner.pool, name, id, ttl).await
    }

    async fn release_lease(&self, name: &str, id: &LeaseId) -> Result<(), StorageError> {
        lease::release(&self.inner.pool, name, id).await
    }

    async fn sync_latest(&self, kind: Option<&str>) -> Result<Snapshot, StorageError> {
        read::snapshot(self.inner.pool.clone(), kind.map(str::to_owned)).await
    }

    async fn sync(
        &self,
        server_version: u64,
        after: u64,
        kind: Option<&str>,
    ) -> Result<RecordStream, StorageError> {
        // Check eagerly so the caller gets `Aborted` as the call's result.
        self.inner.changes(server_version, after, kind, 0).await?;
        Ok(change_stream(
            self.inner.clone(),
            server_version,
            after,
            kind.map(str::to_owned),
        ))
    }
}
