//! The schema and its migrations, applied in order at start.
//!
//! Migrations run in one transaction under an advisory lock, so replicas
//! starting together apply each exactly once. Applied versions are recorded in
//! `portcullis.migrations`. Append new migrations; never edit applied ones.

use sqlx::PgPool;

use crate::StorageError;
use crate::storage::random_u63;

const MIGRATE_LOCK: i64 = 0x706f_7274_6375_6c02;

const MIGRATIONS: &[&str] = &[r#"
CREATE SEQUENCE portcullis.record_version AS bigint;

CREATE FUNCTION portcullis.micros(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

CREATE TABLE portcullis.server_info (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    server_version bigint NOT NULL,
    -- changes with a version <= change_floor may have been deleted
    change_floor  bigint NOT NULL DEFAULT 0
);

CREATE TABLE portcullis.records (
    kind        text NOT NULL,
    id          text NOT NULL,
    version     bigint NOT NULL,
    type_url    text NOT NULL,
    data        bytea NOT NULL,
    -- {"field": ["value", ...]} for Query filters
    index       jsonb NOT NULL DEFAULT '{}',
    modified_at timestamptz NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX records_kind_version ON portcullis.records (kind, version);
CREATE INDEX records_kind_modified ON portcullis.records (kind, modified_at);
CREATE INDEX records_index ON portcullis.records USING gin (index jsonb_path_ops);

CREATE TABLE portcullis.changes (
    version     bigint PRIMARY KEY,
    kind        text NOT NULL,
    id          text NOT NULL,
    type_url    text NOT NULL,
    data        bytea NOT NULL,
    modified_at timestamptz NOT NULL,
    deleted_at  timestamptz
);
CREATE INDEX changes_kind_version ON portcullis.changes (kind, version);
CREATE INDEX changes_modified ON portcullis.changes (modified_at);

CREATE TABLE portcullis.options (
    kind     text PRIMARY KEY,
    ttl_ms   bigint,
    capacity bigint
);

CREATE TABLE portcullis.leases (
    name       text PRIMARY KEY,
    id         text NOT NULL,
    expires_at timestamptz NOT NULL
);
"#];

/// Creates the schema or brings it up to date, and makes sure the storage
/// epoch (`server_version`) exists.
pub(super) async fn migrate(pool: &PgPool) -> Result<(), StorageError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS portcullis;
         CREATE TABLE IF NOT EXISTS portcullis.migrations (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now());",
    )
    .execute(&mut *tx)
    .await?;
    let applied: i32 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM portcullis.migrations")
            .fetch_one(&mut *tx)
            .await?;
    for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tracing::info!(migration = number + 1, "applying databroker migration");
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO portcullis.migrations (version) VALUES ($1)")
            .bind((number + 1) as i32)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO portcullis.server_info (server_version) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(random_u63() as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
