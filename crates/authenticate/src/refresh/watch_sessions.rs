//! Follows the session records: a snapshot (`SyncLatest`), then every change (`Sync`),
//! resuming after errors with backoff and restarting from a snapshot when the databroker
//! says so (`ABORTED`: a new storage epoch, or the change log no longer reaches back).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use portcullis_databroker::{Record, RecordStream, Storage, StorageError};
use portcullis_proto::Session;

use crate::idp::error_chain;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What happened to the sessions.
#[derive(Debug)]
pub(super) enum Event {
    /// Start over: forget every session, the records that follow are all there is.
    Reset,
    /// A session was written.
    Put(Record),
    /// A session was deleted.
    Deleted(String),
}

/// The session watch.
pub(super) struct SessionWatch {
    storage: Arc<dyn Storage>,
    server_version: u64,
    after: u64,
    stream: Option<RecordStream>,
    /// The snapshot is being read: its end means "follow changes".
    in_snapshot: bool,
    backoff: Duration,
}

impl std::fmt::Debug for SessionWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWatch")
            .field("server_version", &self.server_version)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

// === impl SessionWatch ===

impl SessionWatch {
    pub(super) fn new(storage: Arc<dyn Storage>) -> SessionWatch {
        SessionWatch {
            storage,
            server_version: 0,
            after: 0,
            stream: None,
            in_snapshot: false,
            backoff: BACKOFF_MIN,
        }
    }

    /// The next event; waits (forever, if nothing changes). Cancel-safe between events.
    pub(super) async fn next(&mut self) -> Event {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                match self.open().await {
                    Ok(Some(event)) => return event,
                    Ok(None) => continue,
                    Err(error) => {
                        self.fail(&error).await;
                        continue;
                    }
                }
            };
            match stream.next().await {
                Some(Ok(record)) => {
                    self.backoff = BACKOFF_MIN;
                    if !self.in_snapshot {
                        if record.version <= self.after {
                            continue;
                        }
                        self.after = record.version;
                    }
                    if record.kind != Session::TYPE {
                        continue;
                    }
                    return if record.is_deleted() {
                        Event::Deleted(record.id)
                    } else {
                        Event::Put(record)
                    };
                }
                Some(Err(error)) => self.fail(&error).await,
                None if self.in_snapshot => {
                    self.in_snapshot = false;
                    self.stream = None;
                }
                None => self.stream = None,
            }
        }
    }

    /// Opens the snapshot (first time, or after `ABORTED`) or the change stream.
    async fn open(&mut self) -> Result<Option<Event>, StorageError> {
        if self.server_version == 0 {
            let snapshot = self.storage.sync_latest(Some(Session::TYPE)).await?;
            self.server_version = snapshot.versions.server_version;
            self.after = snapshot.versions.latest_record_version;
            self.stream = Some(snapshot.records);
            self.in_snapshot = true;
            return Ok(Some(Event::Reset));
        }
        let changes = self
            .storage
            .sync(self.server_version, self.after, Some(Session::TYPE))
            .await?;
        self.stream = Some(changes);
        Ok(None)
    }

    async fn fail(&mut self, error: &StorageError) {
        self.stream = None;
        if matches!(error, StorageError::Aborted(_)) {
            tracing::info!("session watch restarts from a snapshot");
            self.server_version = 0;
            return;
        }
        if self.in_snapshot {
            // A half-read snapshot is worthless: start it again.
            self.server_version = 0;
            self.in_snapshot = false;
        }
        tracing::warn!(error = %error_chain(error), "session watch interrupted; retrying");
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }
}
