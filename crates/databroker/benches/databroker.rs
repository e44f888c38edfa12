//! Databroker load harness (results in `benches/README.md`, "Databroker").
//!
//! Against a private PostgreSQL started by the test harness (or `DATABASE_URL`):
//! - Put throughput, batched, in process and over gRPC, against a same-run baseline of raw
//!   batched `INSERT`s through sqlx (the floor any design on this database pays);
//! - unbatched Put throughput (one record per call, serialised writers);
//! - the time for a new subscriber (a `SyncClient`) to sync 100,000 records, in process and
//!   over gRPC.
//!
//! `BENCH_RECORDS` overrides the record count (default 100,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_databroker::index::struct_data;
use portcullis_databroker::storage::memory::Memory;
use portcullis_databroker::{RecordWrite, Storage, StorageOptions, SyncClient, open_storage};
use portcullis_grpc::SharedSecret;
use portcullis_testing::postgres;

const BATCH: usize = 500;

fn writes(prefix: &str, from: usize, n: usize) -> Vec<RecordWrite> {
    (from..from + n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            RecordWrite::put(
                "session",
                id.clone(),
                struct_data([("user_id", id.as_str()), ("idp", "bench")]),
            )
        })
        .collect()
}

async fn put_all(storage: &dyn Storage, prefix: &str, total: usize, batch: usize) -> f64 {
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let n = batch.min(total - done);
        storage.put(writes(prefix, done, n)).await.expect("put");
        done += n;
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn raw_insert(url: &str, total: usize) -> f64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    sqlx::query("CREATE TABLE raw_baseline (kind text, id text, type_url text, data bytea, PRIMARY KEY (kind, id))")
        .execute(&pool)
        .await
        .expect("create");
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let n = BATCH.min(total - done);
        let batch = writes("raw", done, n);
        let kinds: Vec<&str> = batch.iter().map(|w| w.kind.as_str()).collect();
        let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
        let urls: Vec<&str> = batch.iter().map(|w| w.data.type_url.as_str()).collect();
        let datas: Vec<&[u8]> = batch.iter().map(|w| w.data.value.as_slice()).collect();
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO raw_baseline SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])",
        )
        .bind(&kinds)
        .bind(&ids)
        .bind(&urls)
        .bind(&datas)
        .execute(&mut *tx)
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
        done += n;
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn time_sync(source: Arc<dyn Storage>, expect: usize) -> Duration {
    let start = Instant::now();
    let replica = SyncClient::new(source);
    tokio::time::timeout(Duration::from_secs(120), replica.ready())
        .await
        .expect("sync finished");
    let took = start.elapsed();
    assert!(replica.len("session") >= expect, "replica incomplete");
    took
}

async fn serve(storage: Arc<dyn Storage>, secret: &SharedSecret) -> Arc<dyn Storage> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served_secret = secret.clone();
    tokio::spawn(async move {
        portcullis_databroker::serve_storage(
            storage,
            &served_secret,
            listener,
            std::future::pending(),
        )
        .await
        .expect("serve")
    });
    Arc::new(portcullis_databroker::connect(&format!("http://{addr}"), secret).unwrap())
}

fn main() {
    let records: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let secret = SharedSecret::from([7u8; 32]);
        let db = postgres::database().expect("postgres");
        let url = db.connection_string().to_owned();
        let pg = open_storage(&StorageOptions::Postgres {
            connection_string: url.clone(),
        })
        .await
        .expect("open postgres storage");
        let pg_remote = serve(pg.clone(), &secret).await;
        let half = records / 2;

        let raw = raw_insert(&url, half).await;
        let put_grpc = put_all(&*pg_remote, "grpc", records - half, BATCH).await;
        let put_local = put_all(&*pg, "local", half, BATCH).await;
        let single = put_all(&*pg, "single", 2_000, 1).await;

        let memory: Arc<dyn Storage> = Arc::new(Memory::new());
        let put_memory = put_all(&*memory, "mem", records, BATCH).await;

        let sync_local = time_sync(pg.clone(), records).await;
        let sync_grpc = time_sync(pg_remote.clone(), records).await;
        let memory_remote = serve(memory.clone(), &secret).await;
        let sync_memory_grpc = time_sync(memory_remote, records).await;

        println!("databroker bench: {records} records, batches of {BATCH}");
        println!("put  raw sqlx INSERT baseline     {raw:>10.0} records/s");
        println!(
            "put  postgres, in process         {put_local:>10.0} records/s  ({:.2}x baseline)",
            put_local / raw
        );
        println!(
            "put  postgres, over gRPC          {put_grpc:>10.0} records/s  ({:.2}x baseline)",
            put_grpc / raw
        );
        println!("put  postgres, 1 record per call  {single:>10.0} records/s");
        println!("put  memory, in process           {put_memory:>10.0} records/s");
        println!(
            "sync {records} records, postgres in process  {:>6.2} s",
            sync_local.as_secs_f64()
        );
        println!(
            "sync {records} records, postgres over gRPC   {:>6.2} s",
            sync_grpc.as_secs_f64()
        );
        println!(
            "sync {records} records, memory over gRPC     {:>6.2} s",
            sync_memory_grpc.as_secs_f64()
        );
    });
}
