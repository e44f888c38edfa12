//! Writing transactions: each takes [`WRITE_LOCK`](super::WRITE_LOCK) before
//! taking versions, writes records and changes in one statement, and
//! notifies the other replicas at commit.

use std::collections::{BTreeSet, HashMap};

use sqlx::{PgConnection, PgPool, Row};

use super::listen::CHANNEL;
use super::read::{self, time_from_micros};
use crate::StorageError;
use crate::index::{index_fields, patch as patch_data};
use crate::record::{Record, RecordWrite, TypeOptions, dedupe};
use crate::storage::validate_writes;

/// Writes the batch: records upserted or deleted, one change row each.
const PUT: &str = "
WITH ts AS (SELECT clock_timestamp() AS now),
input AS (
    SELECT t.*, nextval('portcullis.record_version') AS version
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::bool[])
         WITH ORDINALITY AS t(kind, id, type_url, data, idx, deleted, ord)
),
upserted AS (
    INSERT INTO portcullis.records (kind, id, version, type_url, data, index, modified_at)
    SELECT kind, id, version, type_url, data, idx::jsonb, ts.now FROM input, ts WHERE NOT deleted
    ON CONFLICT (kind, id) DO UPDATE SET
        version = EXCLUDED.version, type_url = EXCLUDED.type_url, data = EXCLUDED.data,
        index = EXCLUDED.index, modified_at = EXCLUDED.modified_at
),
removed AS (
    DELETE FROM portcullis.records r USING input i
    WHERE i.deleted AND r.kind = i.kind AND r.id = i.id
)
INSERT INTO portcullis.changes (version, kind, id, type_url, data, modified_at, deleted_at)
SELECT version, kind, id, type_url, data, ts.now, CASE WHEN deleted THEN ts.now END
FROM input, ts
RETURNING version, kind, id, portcullis.micros(modified_at) AS modified_us";

/// Deletes the given victims (a `WHERE` on `records`), writing tombstones.
fn delete_where(condition: &str) -> String {
    format!(
        "
WITH ts AS (SELECT clock_timestamp() AS now),
victims AS (
    DELETE FROM portcullis.records WHERE {condition}
    RETURNING kind, id, type_url, data, version AS old_version
)
INSERT INTO portcullis.changes (version, kind, id, type_url, data, modified_at, deleted_at)
SELECT nextval('portcullis.record_version'), v.kind, v.id, v.type_url, v.data, ts.now, ts.now
FROM (SELECT * FROM victims ORDER BY old_version) v, ts"
    )
}

/// Takes the write lock for the rest of the transaction.
pub(super) async fn lock(conn: &mut PgConnection) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(super::WRITE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// Wakes every replica's subscribers when the transaction commits.
pub(super) async fn notify(conn: &mut PgConnection) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn put(
    pool: &PgPool,
    writes: Vec<RecordWrite>,
) -> Result<Vec<Record>, StorageError> {
    validate_writes(&writes)?;
    let writes = dedupe(writes);
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let records = write_batch(&mut tx, writes).await?;
    let kinds: BTreeSet<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    trim(&mut tx, kinds).await?;
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(records)
}

pub(super) async fn patch(
    pool: &PgPool,
    writes: Vec<RecordWrite>,
    paths: &[String],
) -> Result<Vec<Record>, StorageError> {
    validate_writes(&writes)?;
    let writes = dedupe(writes);
    let mut tx = pool.begin().await?;
    // Under the lock no other write can slip between the read and the write.
    lock(&mut tx).await?;
    let mut merged = Vec::with_capacity(writes.len());
    for w in writes {
        let old =
            read::get(&mut *tx, &w.kind, &w.id)
                .await?
                .ok_or_else(|| StorageError::NotFound {
                    kind: w.kind.clone(),
                    id: w.id.clone(),
                })?;
        let data = patch_data(&old.data, &w.data, paths)?;
        merged.push(RecordWrite::put(w.kind, w.id, data));
    }
    let records = write_batch(&mut tx, merged).await?;
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(records)
}

pub(super) async fn set_options(
    pool: &PgPool,
    kind: &str,
    options: TypeOptions,
) -> Result<(), StorageError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    sqlx::query(
        "INSERT INTO portcullis.options (kind, ttl_ms, capacity) VALUES ($1, $2, $3)
         ON CONFLICT (kind) DO UPDATE SET ttl_ms = EXCLUDED.ttl_ms, capacity = EXCLUDED.capacity",
    )
    .bind(kind)
    .bind(options.ttl.map(|t| t.as_millis() as i64))
    .bind(options.capacity.map(|c| c.min(i64::MAX as u64) as i64))
    .execute(&mut *tx)
    .await?;
    trim(&mut tx, [kind].into_iter().collect()).await?;
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes a deduplicated batch; the caller holds the lock.
async fn write_batch(
    conn: &mut PgConnection,
    writes: Vec<RecordWrite>,
) -> Result<Vec<Record>, StorageError> {
    let n = writes.len();
    let (mut kinds, mut ids, mut urls, mut datas, mut idxs, mut deleted) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for w in &writes {
        kinds.push(w.kind.as_str());
        ids.push(w.id.as_str());
        urls.push(w.data.type_url.as_str());
        datas.push(w.data.value.as_slice());
        idxs.push(index_json(w));
        deleted.push(w.delete);
    }
    let rows = sqlx::query(PUT)
        .bind(&kinds)
        .bind(&ids)
        .bind(&urls)
        .bind(&datas)
        .bind(&idxs)
        .bind(&deleted)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_key: HashMap<(String, String), RecordWrite> = writes
        .into_iter()
        .map(|w| ((w.kind.clone(), w.id.clone()), w))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let key: (String, String) = (row.try_get("kind")?, row.try_get("id")?);
        let Some(w) = by_key.remove(&key) else {
            continue;
        };
        let modified_at = time_from_micros(row.try_get("modified_us")?);
        out.push(Record {
            kind: w.kind,
            id: w.id,
            version: row.try_get::<i64, _>("version")? as u64,
            data: w.data,
            modified_at,
            deleted_at: w.delete.then_some(modified_at),
        });
    }
    out.sort_unstable_by_key(|r| r.version);
    Ok(out)
}

/// `{"field": ["value", ...]}` for the `index` column.
fn index_json(w: &RecordWrite) -> String {
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    if !w.delete {
        for (field, value) in index_fields(&w.data) {
            if let serde_json::Value::Array(values) = map
                .entry(field)
                .or_insert_with(|| serde_json::Value::Array(Vec::new()))
            {
                values.push(serde_json::Value::String(value));
            }
        }
    }
    serde_json::Value::Object(map).to_string()
}

/// Deletes the oldest records beyond each type's capacity, with tombstones.
/// The caller holds the lock.
async fn trim(conn: &mut PgConnection, kinds: BTreeSet<&str>) -> Result<(), StorageError> {
    let kinds: Vec<&str> = kinds.into_iter().collect();
    let capped: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, capacity FROM portcullis.options
         WHERE capacity IS NOT NULL AND kind = ANY($1)",
    )
    .bind(&kinds)
    .fetch_all(&mut *conn)
    .await?;
    for (kind, capacity) in capped {
        sqlx::query(&delete_where(
            "kind = $1 AND id IN (SELECT id FROM portcullis.records WHERE kind = $1
                                  ORDER BY version DESC OFFSET $2)",
        ))
        .bind(&kind)
        .bind(capacity)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes the records of `kind` older than `ttl_ms`, with tombstones. Takes
/// the lock; returns how many were deleted.
pub(super) async fn expire(pool: &PgPool, kind: &str, ttl_ms: i64) -> Result<u64, StorageError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let done = sqlx::query(&delete_where(
        "kind = $1 AND modified_at < clock_timestamp() - $2 * interval '1 millisecond'",
    ))
    .bind(kind)
    .bind(ttl_ms)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() > 0 {
        notify(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected())
}
