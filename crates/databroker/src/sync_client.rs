//! A local replica of the databroker that any role can embed.
//!
//! A background task runs `SyncLatest`, swaps the result in, then follows
//! `Sync` forever, applying each change in version order. Transient errors
//! (databroker or Postgres away) are retried with backoff from where the
//! replica is; `Aborted` (new server version, or the change log no longer
//! reaches back) throws the replica away and starts over with a fresh
//! snapshot, swapped in whole so readers never see a half-loaded state.
//!
//! Reads ([`SyncClient::get`], [`SyncClient::lookup`]) never leave the
//! process. [`SyncClient::wait_for`] gives read-your-writes: after a `Put`
//! returned version N, wait until the replica has applied N.
//!
//! Memory: the replica holds a live record as an `Entry` keyed by kind and
//! id: the kind and id are not repeated in it, the type URL is shared by every
//! record of that type, and nothing else is kept (a live record has no
//! `deleted_at`). `tests/replica_memory.rs` bounds the bytes per record.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::index::index_fields_of;
use crate::storage::sync::{Backoff, error_chain};
use crate::{Data, Record, Storage, StorageError};

/// How far a replica has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// The storage epoch the replica follows (0 before the first snapshot).
    pub server_version: u64,
    /// Every change up to this version has been applied.
    pub record_version: u64,
}

/// A synced local replica. Dropping it stops the sync task.
#[derive(Debug)]
pub struct SyncClient {
    shared: Arc<Shared>,
    progress: watch::Receiver<Progress>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    state: RwLock<State>,
    kinds: Option<BTreeSet<String>>,
}

#[derive(Debug, Default)]
struct State {
    /// kind → id → the rest of the record.
    records: HashMap<String, HashMap<Box<str>, Entry>>,
    /// `(kind, field, value)` → ids.
    index: HashMap<IndexKey, BTreeSet<String>>,
    /// Every type URL seen, shared by the entries.
    type_urls: HashSet<Arc<str>>,
}

/// A live record without what its place in [`State::records`] says.
#[derive(Debug)]
struct Entry {
    version: u64,
    modified_at: SystemTime,
    type_url: Arc<str>,
    value: Box<[u8]>,
}

type IndexKey = (String, String, String);

// === impl SyncClient ===

impl SyncClient {
    /// Starts replicating every type from `storage` (a [`crate::Client`] or
    /// an in-process backend). Must be called inside a tokio runtime.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::start(storage, None)
    }

    /// Like [`SyncClient::new`], but keeps only records of `kinds` (changes of
    /// other types still advance the replica's version).
    pub fn only(storage: Arc<dyn Storage>, kinds: impl IntoIterator<Item = String>) -> Self {
        Self::start(storage, Some(kinds.into_iter().collect()))
    }

    fn start(storage: Arc<dyn Storage>, kinds: Option<BTreeSet<String>>) -> Self {
        let shared = Arc::new(Shared {
            state: RwLock::new(State::default()),
            kinds,
        });
        let (progress_tx, progress) = watch::channel(Progress::default());
        let task = tokio::spawn(run(storage, shared.clone(), progress_tx));
        Self {
            shared,
            progress,
            task,
        }
    }

    /// The live record `(kind, id)`, if the replica has it.
    pub fn get(&self, kind: &str, id: &str) -> Option<Record> {
        let state = self.shared.read();
        let entry = state.records.get(kind)?.get(id)?;
        Some(entry.record(kind, id))
    }

    /// The version of the live record `(kind, id)`, if the replica has it:
    /// a cheap check before [`SyncClient::get`] (copies nothing).
    pub fn version(&self, kind: &str, id: &str) -> Option<u64> {
        let state = self.shared.read();
        Some(state.records.get(kind)?.get(id)?.version)
    }

    /// The record's data decoded as `M`; `None` when absent, `Some(Err)` when
    /// the data is not an `M`.
    pub fn get_message<M: prost::Message + Default>(
        &self,
        kind: &str,
        id: &str,
    ) -> Option<Result<M, prost::DecodeError>> {
        let state = self.shared.read();
        let entry = state.records.get(kind)?.get(id)?;
        Some(M::decode(&*entry.value))
    }

    /// Live records of `kind` whose indexed `field` has `value` (see
    /// [`crate::index`]), in id order.
    pub fn lookup(&self, kind: &str, field: &str, value: &str) -> Vec<Record> {
        let state = self.shared.read();
        let key = (kind.to_owned(), field.to_owned(), value.to_owned());
        let Some(ids) = state.index.get(&key) else {
            return Vec::new();
        };
        let by_id = state.records.get(kind);
        ids.iter()
            .filter_map(|id| Some(by_id?.get(id.as_str())?.record(kind, id)))
            .collect()
    }

    /// How many live records of `kind` the replica holds.
    pub fn len(&self, kind: &str) -> usize {
        self.shared.read().records.get(kind).map_or(0, HashMap::len)
    }

    /// Where the replica is now.
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// A receiver that changes whenever the replica advances.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Resolves once the replica has applied every change up to `version`
    /// (read-your-writes). Pair with `tokio::time::timeout`.
    pub async fn wait_for(&self, version: u64) {
        let mut rx = self.progress.clone();
        let _ = rx
            .wait_for(|p| p.server_version != 0 && p.record_version >= version)
            .await;
    }

    /// Resolves once the first snapshot is loaded.
    pub async fn ready(&self) {
        self.wait_for(0).await;
    }
}

impl Drop for SyncClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// === impl Shared / State ===

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn keeps(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(kind))
    }
}

impl State {
    fn apply(&mut self, record: Record) {
        let Record {
            kind,
            id,
            version,
            data,
            modified_at,
            deleted_at,
        } = record;
        if let Some(old) = self
            .records
            .get_mut(&kind)
            .and_then(|by_id| by_id.remove(id.as_str()))
        {
            for (field, value) in index_fields_of(&old.type_url, &old.value) {
                let key = (kind.clone(), field, value);
                if let Some(ids) = self.index.get_mut(&key) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
        if deleted_at.is_some() {
            if self.records.get(&kind).is_some_and(HashMap::is_empty) {
                self.records.remove(&kind);
            }
            return;
        }
        for (field, value) in index_fields_of(&data.type_url, &data.value) {
            let key = (kind.clone(), field, value);
            self.index.entry(key).or_default().insert(id.clone());
        }
        let entry = Entry {
            version,
            modified_at,
            type_url: intern(&mut self.type_urls, &data.type_url),
            value: data.value.into_boxed_slice(),
        };
        self.records
            .entry(kind)
            .or_default()
            .insert(id.into_boxed_str(), entry);
    }
}

/// The shared copy of `s`.
fn intern(set: &mut HashSet<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(found) = set.get(s) {
        return Arc::clone(found);
    }
    let new: Arc<str> = Arc::from(s);
    set.insert(Arc::clone(&new));
    new
}

// === impl Entry ===

impl Entry {
    /// The record this entry holds under `(kind, id)`.
    fn record(&self, kind: &str, id: &str) -> Record {
        Record {
            kind: kind.to_owned(),
            id: id.to_owned(),
            version: self.version,
            data: Data {
                type_url: self.type_url.to_string(),
                value: self.value.to_vec(),
            },
            modified_at: self.modified_at,
            deleted_at: None,
        }
    }
}

// === the sync task ===

/// Why following the change stream stopped.
enum Interrupted {
    /// Start over with a snapshot.
    Restart,
    /// Retry from where we are after a pause.
    Retry,
}

async fn run(storage: Arc<dyn Storage>, shared: Arc<Shared>, progress: watch::Sender<Progress>) {
    let lag = measure_lag(&*storage, progress.subscribe());
    tokio::join!(replicate(&*storage, &shared, &progress), lag);
}

/// How often the replica's lag behind the databroker is measured.
const LAG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Sets `portcullis_databroker_sync_lag_versions` every [`LAG_EVERY`]: the databroker's
/// latest record version minus the replica's.
async fn measure_lag(storage: &dyn Storage, progress: watch::Receiver<Progress>) {
    loop {
        tokio::time::sleep(LAG_EVERY).await;
        if let Ok(versions) = storage.server_info().await {
            let at = *progress.borrow();
            if at.server_version == versions.server_version {
                let behind = versions
                    .latest_record_version
                    .saturating_sub(at.record_version);
                portcullis_telemetry::metrics().sync_lag(behind);
            }
        }
    }
}

async fn replicate(storage: &dyn Storage, shared: &Shared, progress: &watch::Sender<Progress>) {
    let mut backoff = Backoff::default();
    loop {
        let mut at = match load(storage, shared).await {
            Ok(at) => at,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "databroker snapshot failed; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        progress.send_replace(at);
        loop {
            let interrupted = follow(storage, shared, progress, &mut at, &mut backoff).await;
            portcullis_telemetry::metrics().sync_reconnect();
            match interrupted {
                Interrupted::Restart => break,
                Interrupted::Retry => tokio::time::sleep(backoff.next_delay()).await,
            }
        }
    }
}

/// Loads a full snapshot into a fresh state and swaps it in.
async fn load(storage: &dyn Storage, shared: &Shared) -> Result<Progress, StorageError> {
    let mut snapshot = storage.sync_latest(None).await?;
    let mut state = State::default();
    while let Some(record) = snapshot.records.next().await {
        let record = record?;
        if shared.keeps(&record.kind) {
            state.apply(record);
        }
    }
    *shared.state.write().unwrap_or_else(|e| e.into_inner()) = state;
    Ok(Progress {
        server_version: snapshot.versions.server_version,
        record_version: snapshot.versions.latest_record_version,
    })
}

/// Applies changes after `at` until the stream fails.
async fn follow(
    storage: &dyn Storage,
    shared: &Shared,
    progress: &watch::Sender<Progress>,
    at: &mut Progress,
    backoff: &mut Backoff,
) -> Interrupted {
    let classify = |error: StorageError| match error {
        StorageError::Aborted(reason) => {
            tracing::info!(reason, "databroker sync restarts from a snapshot");
            Interrupted::Restart
        }
        error => {
            tracing::warn!(error = %error_chain(&error), "databroker sync interrupted; retrying");
            Interrupted::Retry
        }
    };
    let mut changes = match storage
        .sync(at.server_version, at.record_version, None)
        .await
    {
        Ok(changes) => changes,
        Err(error) => return classify(error),
    };
    while let Some(change) = changes.next().await {
        let record = match change {
            Ok(record) => record,
            Err(error) => return classify(error),
        };
        if record.version <= at.record_version {
            continue;
        }
        at.record_version = record.version;
        if shared.keeps(&record.kind) {
            shared
                .state
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .apply(record);
        }
        progress.send_replace(*at);
        backoff.reset();
    }
    tracing::debug!("databroker sync stream ended; reconnecting");
    Interrupted::Retry
}
