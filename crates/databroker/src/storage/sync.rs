//! The change stream behind [`Storage::sync`](super::Storage::sync), shared
//! by the backends.
//!
//! A backend offers pages of changes after a version plus a wake-up signal;
//! this turns them into an endless stream: read a page, send it, and when
//! there is nothing new wait for a wake-up (or a periodic re-check, in case a
//! wake-up was lost, e.g. while the Postgres listener reconnected).
//! Transient failures are retried with backoff, so a stream outlives a
//! Postgres restart; only `Aborted` (and the subscriber leaving) end it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::RecordStream;
use crate::StorageError;
use crate::record::Record;

/// How many changes one page reads.
pub(crate) const PAGE: usize = 1_000;
/// Re-check for changes this often even without a wake-up.
const RECHECK: Duration = Duration::from_secs(5);

/// A source of change pages.
#[async_trait::async_trait]
pub(crate) trait ChangeSource: Send + Sync + 'static {
    /// Up to `limit` changes after `after`, in version order. `Aborted` when
    /// `server_version` differs or changes after `after` were dropped.
    async fn changes(
        &self,
        server_version: u64,
        after: u64,
        kind: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StorageError>;

    /// Changes whenever new changes may exist.
    fn wakeups(&self) -> watch::Receiver<u64>;
}

/// The endless change stream after `after`.
pub(crate) fn change_stream<S: ChangeSource>(
    source: Arc<S>,
    server_version: u64,
    mut after: u64,
    kind: Option<String>,
) -> RecordStream {
    let (tx, rx) = mpsc::channel(PAGE);
    let mut wakeups = source.wakeups();
    tokio::spawn(async move {
        let mut backoff = Backoff::default();
        loop {
            // Mark the current signal seen before reading, so a change that
            // lands during the read wakes us again.
            wakeups.borrow_and_update();
            let page = source
                .changes(server_version, after, kind.as_deref(), PAGE)
                .await;
            let page = match page {
                Ok(page) => {
                    backoff.reset();
                    page
                }
                Err(error) if error.is_transient() => {
                    tracing::warn!(error = %error_chain(&error), "reading changes failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff.next_delay()) => continue,
                        () = tx.closed() => return,
                    }
                }
                Err(error) => {
                    let _ = tx.send(Err(error)).await;
                    return;
                }
            };
            let full = page.len() == PAGE;
            for record in page {
                after = record.version;
                if tx.send(Ok(record)).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                changed = wakeups.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RECHECK) => {}
                () = tx.closed() => return,
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Exponential backoff from 50 ms to 5 s.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ms = 50u64.saturating_mul(1 << self.attempt.min(7)).min(5_000);
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_millis(ms)
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// An error with its sources, for logs.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
