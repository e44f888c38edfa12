//! Leases on the database clock, so replicas with skewed clocks agree.

use std::time::Duration;

use sqlx::PgPool;

use crate::StorageError;
use crate::record::LeaseId;
use crate::storage::random_u63;

pub(super) async fn acquire(
    pool: &PgPool,
    name: &str,
    ttl: Duration,
) -> Result<LeaseId, StorageError> {
    let id = format!("{:016x}", random_u63());
    let got: Option<String> = sqlx::query_scalar(
        "INSERT INTO portcullis.leases (name, id, expires_at)
         VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE
             SET id = EXCLUDED.id, expires_at = EXCLUDED.expires_at
             WHERE portcullis.leases.expires_at <= clock_timestamp()
         RETURNING id",
    )
    .bind(name)
    .bind(&id)
    .bind(ttl.as_millis() as i64)
    .fetch_optional(pool)
    .await?;
    match got {
        Some(got) if got == id => Ok(LeaseId(id)),
        _ => Err(StorageError::LeaseHeld(name.to_owned())),
    }
}

pub(super) async fn renew(
    pool: &PgPool,
    name: &str,
    id: &LeaseId,
    ttl: Duration,
) -> Result<(), StorageError> {
    let done = sqlx::query(
        "UPDATE portcullis.leases
         SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
         WHERE name = $1 AND id = $2",
    )
    .bind(name)
    .bind(&id.0)
    .bind(ttl.as_millis() as i64)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::LeaseLost(name.to_owned()));
    }
    Ok(())
}

pub(super) async fn release(pool: &PgPool, name: &str, id: &LeaseId) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM portcullis.leases WHERE name = $1 AND id = $2")
        .bind(name)
        .bind(&id.0)
        .execute(pool)
        .await?;
    Ok(())
}
