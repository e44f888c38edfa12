//! The in-memory backend: one replica, state lost at exit.
//!
//! Every start is a new storage epoch (a random `server_version`), so synced
//! clients of a restarted databroker throw their replicas away. One mutex
//! guards the state; versions are assigned under it, so the change log is in
//! version order by construction. The change log keeps the last
//! [`CHANGE_LOG_CAPACITY`] changes; a subscriber further behind is `Aborted`.
//! A live record and its change-log entry are one shared allocation, and the
//! records are keyed by their own id, so a record's bytes are held once.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures_util::{StreamExt, stream};
use tokio::sync::watch;

use super::sync::{ChangeSource, change_stream};
use super::{RecordStream, Snapshot, Storage, random_u63, validate_writes};
use crate::StorageError;
use crate::index::{index_fields, patch};
use crate::record::{
    Keyed, LeaseId, Query, QueryPage, Record, RecordWrite, TypeOptions, Versions, dedupe,
};

/// Changes kept for subscribers that fall behind.
pub const CHANGE_LOG_CAPACITY: usize = 100_000;
/// How often expired records (per-type TTL) are removed.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(1);

/// The in-memory backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Memory {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    server_version: u64,
    state: Mutex<State>,
    wake: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    version: u64,
    records: BTreeMap<String, HashSet<Keyed>>,
    changes: VecDeque<Arc<Record>>,
    /// Changes up to this version may have been dropped.
    floor: u64,
    options: HashMap<String, TypeOptions>,
    leases: HashMap<String, (LeaseId, Instant)>,
}

// === impl Memory ===

impl Memory {
    /// A new, empty store with a random server version. Starts the TTL
    /// cleanup task, so it must be called inside a tokio runtime.
    pub fn new() -> Self {
        let inner = Arc::new(Inner {
            server_version: random_u63(),
            state: Mutex::new(State::default()),
            wake: watch::Sender::new(0),
        });
        tokio::spawn(cleanup(Arc::downgrade(&inner)));
        Self { inner }
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

async fn cleanup(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(CLEANUP_INTERVAL);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let now = SystemTime::now();
        let mut state = inner.lock();
        let expired: Vec<(String, String)> = state
            .options
            .iter()
            .filter_map(|(kind, o)| o.ttl.map(|ttl| (kind.clone(), ttl)))
            .flat_map(|(kind, ttl)| {
                let cutoff = now.checked_sub(ttl).unwrap_or(SystemTime::UNIX_EPOCH);
                state
                    .records
                    .get(&kind)
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .filter(move |r| r.modified_at < cutoff)
                    .map(|r| (r.kind.clone(), r.id.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        if expired.is_empty() {
            continue;
        }
        for (kind, id) in expired {
            state.write(RecordWrite::delete(kind, id), now);
        }
        let version = state.version;
        drop(state);
        inner.wake.send_replace(version);
    }
}

// === impl Inner ===

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn versions(&self, state: &State) -> Versions {
        Versions {
            server_version: self.server_version,
            latest_record_version: state.version,
        }
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
        if server_version != self.server_version {
            return Err(StorageError::Aborted("server version changed".into()));
        }
        let state = self.lock();
        if after < state.floor {
            return Err(StorageError::Aborted(
                "change log no longer reaches back that far".into(),
            ));
        }
        // Versions are strictly increasing; find the first change after `after`.
        let start = state.changes.partition_point(|c| c.version <= after);
        Ok(state
            .changes
            .range(start..)
            .filter(|c| kind.is_none_or(|k| c.kind == k))
            .take(limit)
            .map(|c| Record::clone(c))
            .collect())
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}

// === impl State ===

impl State {
    /// Applies one write: assigns the next version, updates the records and
    /// appends to the change log.
    fn write(&mut self, w: RecordWrite, now: SystemTime) -> Record {
        self.version += 1;
        let record = Arc::new(Record {
            kind: w.kind,
            id: w.id,
            version: self.version,
            data: w.data,
            modified_at: now,
            deleted_at: w.delete.then_some(now),
        });
        let by_id = self.records.entry(record.kind.clone()).or_default();
        if w.delete {
            by_id.remove(record.id.as_str());
            if by_id.is_empty() {
                self.records.remove(&record.kind);
            }
        } else {
            by_id.replace(Keyed(Arc::clone(&record)));
        }
        self.changes.push_back(Arc::clone(&record));
        while self.changes.len() > CHANGE_LOG_CAPACITY {
            if let Some(dropped) = self.changes.pop_front() {
                self.floor = dropped.version;
            }
        }
        Record::clone(&record)
    }

    /// Deletes the oldest records of `kind` beyond its capacity.
    fn trim(&mut self, kind: &str, now: SystemTime) {
        let Some(capacity) = self.options.get(kind).and_then(|o| o.capacity) else {
            return;
        };
        let Some(by_id) = self.records.get(kind) else {
            return;
        };
        let excess = by_id.len().saturating_sub(capacity as usize);
        if excess == 0 {
            return;
        }
        let mut oldest: Vec<(u64, String)> =
            by_id.iter().map(|r| (r.version, r.id.clone())).collect();
        oldest.sort_unstable();
        for (_, id) in oldest.into_iter().take(excess) {
            self.write(RecordWrite::delete(kind, id), now);
        }
    }
}

fn matches(record: &Record, query: &Query) -> bool {
    let fields = if query.filters.iter().any(|f| f.field != "id") {
        index_fields(&record.data)
    } else {
        Vec::new()
    };
    query.filters.iter().all(|f| {
        if f.field == "id" {
            record.id == f.value
        } else {
            fields.iter().any(|(k, v)| *k == f.field && *v == f.value)
        }
    })
}

#[async_trait::async_trait]
impl Storage for Memory {
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>, StorageError> {
        let state = self.inner.lock();
        Ok(state
            .records
            .get(kind)
            .and_then(|m| m.get(id))
            .map(|r| Record::clone(r)))
    }

    async fn put(&self, writes: Vec<RecordWrite>) -> Result<Vec<Record>, StorageError> {
        validate_writes(&writes)?;
        let now = SystemTime::now();
        let mut state = self.inner.lock();
        let out: Vec<Record> = dedupe(writes)
            .into_iter()
            .map(|w| state.write(w, now))
            .collect();
        let kinds: std::collections::BTreeSet<String> =
            out.iter().map(|r| r.kind.clone()).collect();
        for kind in kinds {
            state.trim(&kind, now);
        }
        let version = state.version;
        drop(state);
        self.inner.wake.send_replace(version);
        Ok(out)
    }

    async fn patch(
        &self,
        writes: Vec<RecordWrite>,
        paths: Vec<String>,
    ) -> Result<Vec<Record>, StorageError> {
        validate_writes(&writes)?;
        let merged = {
            let state = self.inner.lock();
            let mut merged = Vec::with_capacity(writes.len());
            for w in dedupe(writes) {
                let old = state
                    .records
                    .get(&w.kind)
                    .and_then(|m| m.get(w.id.as_str()))
                    .ok_or_else(|| StorageError::NotFound {
                        kind: w.kind.clone(),
                        id: w.id.clone(),
                    })?;
                let data = patch(&old.data, &w.data, &paths)?;
                merged.push(RecordWrite::put(w.kind, w.id, data));
            }
            merged
        };
        // A concurrent put between the read and this write is overwritten, as
        // with any last-writer-wins put.
        self.put(merged).await
    }

    async fn query(&self, query: Query) -> Result<QueryPage, StorageError> {
        let state = self.inner.lock();
        let mut found: Vec<&Record> = state
            .records
            .get(&query.kind)
            .into_iter()
            .flat_map(|m| m.iter().map(|r| &**r))
            .filter(|r| matches(r, &query))
            .collect();
        found.sort_unstable_by_key(|r| r.version);
        let total_count = found.len() as u64;
        let records = found
            .into_iter()
            .skip(query.offset as usize)
            .take(query.effective_limit() as usize)
            .cloned()
            .collect();
        Ok(QueryPage {
            records,
            total_count,
            versions: self.inner.versions(&state),
        })
    }

    async fn list_types(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.inner.lock().records.keys().cloned().collect())
    }

    async fn server_info(&self) -> Result<Versions, StorageError> {
        let state = self.inner.lock();
        Ok(self.inner.versions(&state))
    }

    async fn set_options(&self, kind: &str, options: TypeOptions) -> Result<(), StorageError> {
        let now = SystemTime::now();
        let mut state = self.inner.lock();
        state.options.insert(kind.to_owned(), options);
        state.trim(kind, now);
        let version = state.version;
        drop(state);
        self.inner.wake.send_replace(version);
        Ok(())
    }

    async fn get_options(&self, kind: &str) -> Result<TypeOptions, StorageError> {
        Ok(self
            .inner
            .lock()
            .options
            .get(kind)
            .copied()
            .unwrap_or_default())
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<LeaseId, StorageError> {
        let now = Instant::now();
        let mut state = self.inner.lock();
        if let Some((_, expires)) = state.leases.get(name)
            && *expires > now
        {
            return Err(StorageError::LeaseHeld(name.to_owned()));
        }
        let id = LeaseId(format!("{:016x}", random_u63()));
        state
            .leases
            .insert(name.to_owned(), (id.clone(), now + ttl));
        Ok(id)
    }

    async fn renew_lease(
        &self,
        name: &str,
        id: &LeaseId,
        ttl: Duration,
    ) -> Result<(), StorageError> {
        let mut state = self.inner.lock();
        match state.leases.get_mut(name) {
            Some((held, expires)) if held == id => {
                *expires = Instant::now() + ttl;
                Ok(())
            }
            _ => Err(StorageError::LeaseLost(name.to_owned())),
        }
    }

    async fn release_lease(&self, name: &str, id: &LeaseId) -> Result<(), StorageError> {
        let mut state = self.inner.lock();
        if state.leases.get(name).is_some_and(|(held, _)| held == id) {
            state.leases.remove(name);
        }
        Ok(())
    }

    async fn sync_latest(&self, kind: Option<&str>) -> Result<Snapshot, StorageError> {
        let state = self.inner.lock();
        // Shared references only: each record is copied as the stream is read, so a snapshot
        // never holds a second copy of the whole store.
        let records: Vec<Arc<Record>> = state
            .records
            .iter()
            .filter(|(k, _)| kind.is_none_or(|want| want == k.as_str()))
            .flat_map(|(_, m)| m.iter().map(|r| Arc::clone(&r.0)))
            .collect();
        Ok(Snapshot {
            versions: self.inner.versions(&state),
            records: Box::pin(stream::iter(records).map(|r| Ok(Record::clone(&r)))),
        })
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
