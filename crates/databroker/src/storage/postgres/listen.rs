//! `LISTEN portcullis_changes`: wakes this replica's `Sync` streams whenever
//! any replica commits a write.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::storage::sync::{Backoff, error_chain};

/// The notification channel every write transaction notifies.
pub(super) const CHANNEL: &str = "portcullis_changes";

/// Runs until `stop`'s sender is dropped.
pub(super) async fn run(pool: PgPool, wake: watch::Sender<u64>, mut stop: watch::Receiver<()>) {
    let mut backoff = Backoff::default();
    let wake_all = || wake.send_modify(|n| *n = n.wrapping_add(1));
    loop {
        let listener = tokio::select! {
            l = connect(&pool) => l,
            _ = stop.changed() => return,
        };
        let mut listener = match listener {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "postgres listener failed to connect");
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        // Notifications may have been missed while not listening.
        wake_all();
        loop {
            let next = tokio::select! {
                n = listener.try_recv() => n,
                _ = stop.changed() => return,
            };
            match next {
                Ok(Some(_)) => {
                    backoff.reset();
                    wake_all();
                }
                // Connection lost and re-established: anything sent in
                // between is lost, so everyone re-reads.
                Ok(None) => wake_all(),
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "postgres listener lost its connection");
                    wake_all();
                    let delay = backoff.next_delay().max(Duration::from_millis(100));
                    tokio::select! {
                        () = tokio::time::sleep(delay) => break,
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
