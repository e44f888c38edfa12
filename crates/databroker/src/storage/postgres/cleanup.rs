//! Periodic cleanup, run by every replica: records past their type's TTL
//! (deleted with tombstones) and changes past [`CHANGE_RETENTION`].

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use super::CHANGE_RETENTION;
use super::write::expire;
use crate::StorageError;
use crate::storage::sync::error_chain;

/// How often cleanup runs.
const INTERVAL: Duration = Duration::from_secs(1);

/// Runs until `stop`'s sender is dropped.
pub(super) async fn run(pool: PgPool, mut stop: watch::Receiver<()>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = once(&pool).await {
            tracing::debug!(error = %error_chain(&error), "databroker cleanup failed");
        }
    }
}

async fn once(pool: &PgPool) -> Result<(), StorageError> {
    let ttls: Vec<(String, i64)> = sqlx::query_as(
        "SELECT o.kind, o.ttl_ms FROM portcullis.options o
         WHERE o.ttl_ms IS NOT NULL AND EXISTS (
             SELECT 1 FROM portcullis.records r WHERE r.kind = o.kind
             AND r.modified_at < clock_timestamp() - o.ttl_ms * interval '1 millisecond')",
    )
    .fetch_all(pool)
    .await?;
    for (kind, ttl_ms) in ttls {
        let n = expire(pool, &kind, ttl_ms).await?;
        tracing::debug!(kind, expired = n, "expired records");
    }
    trim_change_log(pool, CHANGE_RETENTION).await
}

/// Deletes changes older than `retention` and raises the floor to match, in
/// one transaction. The newest change is always kept (so the latest version
/// stays known even when everything is old).
async fn trim_change_log(pool: &PgPool, retention: Duration) -> Result<(), StorageError> {
    let mut tx = pool.begin().await?;
    let cutoff: Option<i64> = sqlx::query_scalar(
        "SELECT max(version) FROM portcullis.changes
         WHERE modified_at < clock_timestamp() - $1 * interval '1 millisecond'
         AND version < (SELECT max(version) FROM portcullis.changes)",
    )
    .bind(retention.as_millis() as i64)
    .fetch_one(&mut *tx)
    .await?;
    let Some(cutoff) = cutoff else {
        return Ok(());
    };
    sqlx::query("UPDATE portcullis.server_info SET change_floor = greatest(change_floor, $1)")
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM portcullis.changes WHERE version <= $1")
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
