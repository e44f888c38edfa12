//! Reads: records, queries, change pages and consistent snapshots. None takes
//! the write lock.

use std::time::{Duration, SystemTime};

use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, PgPool, Row};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::StorageError;
use crate::record::{Data, Query, QueryPage, Record, TypeOptions, Versions};
use crate::storage::Snapshot;

const RECORD_COLUMNS: &str = "kind, id, version, type_url, data,
    portcullis.micros(modified_at) AS modified_us, NULL::bigint AS deleted_us";
const CHANGE_COLUMNS: &str = "kind, id, version, type_url, data,
    portcullis.micros(modified_at) AS modified_us, portcullis.micros(deleted_at) AS deleted_us";
const VERSIONS: &str = "SELECT server_version, greatest(change_floor,
    coalesce((SELECT max(version) FROM portcullis.changes), 0)) AS latest, change_floor
    FROM portcullis.server_info";
/// Rows per message of a snapshot stream.
const SNAPSHOT_BATCH: usize = 512;

pub(super) fn time_from_micros(us: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)
}

fn record(row: &PgRow) -> Result<Record, sqlx::Error> {
    Ok(Record {
        kind: row.try_get("kind")?,
        id: row.try_get("id")?,
        version: row.try_get::<i64, _>("version")? as u64,
        data: Data {
            type_url: row.try_get("type_url")?,
            value: row.try_get("data")?,
        },
        modified_at: time_from_micros(row.try_get("modified_us")?),
        deleted_at: row
            .try_get::<Option<i64>, _>("deleted_us")?
            .map(time_from_micros),
    })
}

/// `(versions, change_floor)`.
async fn versions_and_floor(db: impl PgExecutor<'_>) -> Result<(Versions, u64), StorageError> {
    let row = sqlx::query(VERSIONS).fetch_one(db).await?;
    Ok((
        Versions {
            server_version: row.try_get::<i64, _>("server_version")? as u64,
            latest_record_version: row.try_get::<i64, _>("latest")? as u64,
        },
        row.try_get::<i64, _>("change_floor")? as u64,
    ))
}

pub(super) async fn versions(pool: &PgPool) -> Result<Versions, StorageError> {
    Ok(versions_and_floor(pool).await?.0)
}

pub(super) async fn get(
    db: impl PgExecutor<'_>,
    kind: &str,
    id: &str,
) -> Result<Option<Record>, StorageError> {
    let sql =
        format!("SELECT {RECORD_COLUMNS} FROM portcullis.records WHERE kind = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(kind)
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.as_ref().map(record).transpose()?)
}

pub(super) async fn query(pool: &PgPool, query: &Query) -> Result<QueryPage, StorageError> {
    let mut id = None;
    let mut index = serde_json::Map::new();
    for f in &query.filters {
        if f.field == "id" {
            if id.is_some_and(|id| id != f.value.as_str()) {
                // Two different ids: nothing can match.
                id = Some("\u{0}");
            } else {
                id = Some(f.value.as_str());
            }
        } else if let serde_json::Value::Array(v) = index
            .entry(f.field.clone())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()))
        {
            v.push(serde_json::Value::String(f.value.clone()));
        }
    }
    let index = serde_json::Value::Object(index).to_string();
    let filter = "kind = $1 AND ($2::text IS NULL OR id = $2) AND index @> $3::jsonb";
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (versions, _) = versions_and_floor(&mut *tx).await?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM portcullis.records WHERE {filter}"
    ))
    .bind(&query.kind)
    .bind(id)
    .bind(&index)
    .fetch_one(&mut *tx)
    .await?;
    let rows = sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS} FROM portcullis.records WHERE {filter}
         ORDER BY version OFFSET $4 LIMIT $5"
    ))
    .bind(&query.kind)
    .bind(id)
    .bind(&index)
    .bind(query.offset.min(i64::MAX as u64) as i64)
    .bind(query.effective_limit() as i64)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(QueryPage {
        records: rows.iter().map(record).collect::<Result<_, _>>()?,
        total_count: total as u64,
        versions,
    })
}

pub(super) async fn list_types(pool: &PgPool) -> Result<Vec<String>, StorageError> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT kind FROM portcullis.records ORDER BY kind")
            .fetch_all(pool)
            .await?,
    )
}

pub(super) async fn options(pool: &PgPool, kind: &str) -> Result<TypeOptions, StorageError> {
    let row: Option<(Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT ttl_ms, capacity FROM portcullis.options WHERE kind = $1")
            .bind(kind)
            .fetch_optional(pool)
            .await?;
    let (ttl, capacity) = row.unwrap_or_default();
    Ok(TypeOptions {
        ttl: ttl.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        capacity: capacity.map(|c| c.max(0) as u64),
    })
}

/// A page of changes after `after`. The floor is read *after* the page: the
/// floor only grows, and is raised in the same transaction that deletes
/// changes, so if any change we needed was gone when the page was read, the
/// raised floor is visible now and we answer `Aborted` instead of a page with
/// a hole.
pub(super) async fn changes(
    pool: &PgPool,
    server_version: u64,
    after: u64,
    kind: Option<&str>,
    limit: usize,
) -> Result<Vec<Record>, StorageError> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM portcullis.changes
         WHERE version > $1 AND ($2::text IS NULL OR kind = $2)
         ORDER BY version LIMIT $3"
    );
    let rows = if limit == 0 {
        Vec::new()
    } else {
        sqlx::query(&sql)
            .bind(after.min(i64::MAX as u64) as i64)
            .bind(kind)
            .bind(limit as i64)
            .fetch_all(pool)
            .await?
    };
    let (versions, floor) = versions_and_floor(pool).await?;
    if versions.server_version != server_version {
        return Err(StorageError::Aborted("server version changed".into()));
    }
    if after < floor {
        return Err(StorageError::Aborted(
            "change log no longer reaches back that far".into(),
        ));
    }
    Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
}

/// Every live record (of `kind`) read in one repeatable-read snapshot, plus
/// the versions of that snapshot. Because writers commit in version order,
/// the snapshot holds exactly the changes up to `latest_record_version`.
pub(super) async fn snapshot(pool: PgPool, kind: Option<String>) -> Result<Snapshot, StorageError> {
    let (versions_tx, versions_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel::<Result<Record, StorageError>>(SNAPSHOT_BATCH * 4);
    tokio::spawn(async move {
        let result = stream_snapshot(&pool, kind.as_deref(), versions_tx, &tx).await;
        if let Err(error) = result {
            let _ = tx.send(Err(error)).await;
        }
    });
    let versions = versions_rx
        .await
        .map_err(|_| StorageError::Internal("snapshot task ended early".into()))??;
    Ok(Snapshot {
        versions,
        records: Box::pin(ReceiverStream::new(rx)),
    })
}

async fn stream_snapshot(
    pool: &PgPool,
    kind: Option<&str>,
    versions_tx: oneshot::Sender<Result<Versions, StorageError>>,
    tx: &mpsc::Sender<Result<Record, StorageError>>,
) -> Result<(), StorageError> {
    let begin = async {
        let mut db = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *db)
            .await?;
        let (versions, _) = versions_and_floor(&mut *db).await?;
        Ok::<_, StorageError>((db, versions))
    };
    let mut db = match begin.await {
        Ok((db, versions)) => {
            let _ = versions_tx.send(Ok(versions));
            db
        }
        Err(error) => {
            let _ = versions_tx.send(Err(error));
            return Ok(());
        }
    };
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM portcullis.records WHERE ($1::text IS NULL OR kind = $1)"
    );
    let mut rows = sqlx::query(&sql).bind(kind).fetch(&mut *db);
    use futures_util::TryStreamExt;
    while let Some(row) = rows.try_next().await? {
        if tx.send(Ok(record(&row)?)).await.is_err() {
            return Ok(());
        }
    }
    drop(rows);
    db.commit().await?;
    Ok(())
}
