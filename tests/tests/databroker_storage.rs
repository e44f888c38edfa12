//! The databroker API behaves the same on every backend: memory, PostgreSQL, and a remote
//! databroker over gRPC (with service auth).

#[path = "databroker/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use portcullis_databroker::index::{index_fields, struct_data};
use portcullis_databroker::storage::memory::Memory;
use portcullis_databroker::{Filter, Query, RecordWrite, Storage, StorageError, TypeOptions};
use portcullis_testing::postgres;
use support::{Replica, assert_strictly_increasing, collect_until, put};

fn field(record: &portcullis_databroker::Record, name: &str) -> Option<String> {
    index_fields(&record.data)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn ids(records: &[portcullis_databroker::Record]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

/// Every operation of the API, checked on `s`.
async fn conformance(s: Arc<dyn Storage>) {
    let start = s.server_info().await.unwrap();
    assert_ne!(start.server_version, 0);

    // Put: one version per record, increasing, above what was there.
    let written = s
        .put(vec![
            put("user", "u1", "1"),
            put("user", "u2", "2"),
            put("session", "s1", "x"),
            put("session", "s1", "x"), // duplicate key collapses to one write
        ])
        .await
        .unwrap();
    assert_eq!(written.len(), 3);
    assert_strictly_increasing(&written);
    assert!(written[0].version > start.latest_record_version);

    // Get.
    let u1 = s.get("user", "u1").await.unwrap().expect("u1 stored");
    assert_eq!(field(&u1, "n").as_deref(), Some("1"));
    assert!(s.get("user", "nobody").await.unwrap().is_none());

    // Query: indexed field, id, offset/limit, total count.
    let q = |filters: Vec<Filter>, offset, limit| Query {
        kind: "user".into(),
        filters,
        offset,
        limit,
    };
    let f = |field: &str, value: &str| Filter {
        field: field.into(),
        value: value.into(),
    };
    let page = s.query(q(vec![f("n", "2")], 0, None)).await.unwrap();
    assert_eq!(ids(&page.records), ["u2"]);
    assert_eq!(page.total_count, 1);
    let page = s.query(q(vec![f("id", "u1")], 0, None)).await.unwrap();
    assert_eq!(ids(&page.records), ["u1"]);
    let page = s.query(q(vec![], 1, Some(1))).await.unwrap();
    assert_eq!(page.total_count, 2);
    assert_eq!(ids(&page.records), ["u2"]);
    let page = s
        .query(q(vec![f("n", "1"), f("n", "2")], 0, None))
        .await
        .unwrap();
    assert_eq!(page.total_count, 0, "filters are AND-ed");

    assert_eq!(s.list_types().await.unwrap(), ["session", "user"]);

    // Patch: only the masked field changes.
    let patched = s
        .patch(
            vec![RecordWrite::put(
                "user",
                "u1",
                struct_data([("m", "new"), ("n", "ignored")]),
            )],
            vec!["m".into()],
        )
        .await
        .unwrap();
    assert_eq!(patched.len(), 1);
    let u1 = s.get("user", "u1").await.unwrap().unwrap();
    assert_eq!(field(&u1, "m").as_deref(), Some("new"));
    assert_eq!(field(&u1, "n").as_deref(), Some("1"));
    assert_eq!(u1.version, patched[0].version);
    let missing = s
        .patch(vec![put("user", "nobody", "1")], vec!["n".into()])
        .await;
    assert!(missing.is_err(), "patching a missing record fails");

    // Delete: a tombstone, and the record is gone.
    let deleted = s
        .put(vec![RecordWrite::delete("user", "u2")])
        .await
        .unwrap();
    assert!(deleted[0].deleted_at.is_some());
    assert!(s.get("user", "u2").await.unwrap().is_none());

    // SyncLatest: the live records and the version they are consistent with.
    let mut snapshot = s.sync_latest(None).await.unwrap();
    assert_eq!(snapshot.versions.latest_record_version, deleted[0].version);
    let mut live = collect_until(&mut snapshot.records, Duration::from_secs(5), |r| {
        r.len() == 2
    })
    .await;
    live.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ids(&live), ["s1", "u1"]);
    let mut only_sessions = s.sync_latest(Some("session")).await.unwrap();
    let sessions = collect_until(&mut only_sessions.records, Duration::from_secs(5), |r| {
        !r.is_empty()
    })
    .await;
    assert_eq!(ids(&sessions), ["s1"]);

    // Sync: every change after a version, in order, then new ones as they come.
    let sv = snapshot.versions.server_version;
    let mut changes = s.sync(sv, start.latest_record_version, None).await.unwrap();
    let seen = collect_until(&mut changes, Duration::from_secs(5), |r| r.len() == 5).await;
    assert_strictly_increasing(&seen);
    assert_eq!(seen.last().unwrap().version, deleted[0].version);
    let later = s.put(vec![put("user", "u3", "3")]).await.unwrap();
    let next = collect_until(&mut changes, Duration::from_secs(5), |r| !r.is_empty()).await;
    assert_eq!(next[0].version, later[0].version);
    let mut typed = s
        .sync(sv, start.latest_record_version, Some("session"))
        .await
        .unwrap();
    let typed = collect_until(&mut typed, Duration::from_secs(5), |r| !r.is_empty()).await;
    assert_eq!(ids(&typed), ["s1"]);

    // Sync against another server version must restart.
    match s.sync(sv.wrapping_add(1), 0, None).await {
        Err(StorageError::Aborted(_)) => {}
        Err(other) => panic!("expected Aborted, got {other:?}"),
        Ok(_) => panic!("sync with a wrong server version was accepted"),
    }

    // Options.
    let options = TypeOptions {
        ttl: Some(Duration::from_secs(3600)),
        capacity: Some(100),
    };
    s.set_options("user", options).await.unwrap();
    assert_eq!(s.get_options("user").await.unwrap(), options);
    assert_eq!(
        s.get_options("other").await.unwrap(),
        TypeOptions::default()
    );

    // Leases.
    let ttl = Duration::from_secs(30);
    let id = s.acquire_lease("leader", ttl).await.unwrap();
    assert!(matches!(
        s.acquire_lease("leader", ttl).await,
        Err(StorageError::LeaseHeld(_))
    ));
    s.renew_lease("leader", &id, ttl).await.unwrap();
    let stranger = portcullis_databroker::LeaseId("nope".into());
    assert!(matches!(
        s.renew_lease("leader", &stranger, ttl).await,
        Err(StorageError::LeaseLost(_))
    ));
    s.release_lease("leader", &id).await.unwrap();
    s.acquire_lease("leader", ttl).await.unwrap();

    // Invalid writes are refused.
    assert!(matches!(
        s.put(vec![put("", "x", "1")]).await,
        Err(StorageError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn memory_backend_conforms() {
    conformance(Arc::new(Memory::new())).await;
}

#[tokio::test]
async fn postgres_backend_conforms() {
    let db = postgres::database().unwrap();
    let storage =
        portcullis_databroker::open_storage(&portcullis_databroker::StorageOptions::Postgres {
            connection_string: db.connection_string().to_owned(),
        })
        .await
        .unwrap();
    conformance(storage).await;
}

#[tokio::test]
async fn grpc_client_over_memory_conforms() {
    let replica = Replica::serve(Arc::new(Memory::new())).await;
    conformance(replica.client.clone()).await;
    replica.stop().await;
}

#[tokio::test]
async fn grpc_client_over_postgres_conforms() {
    let db = postgres::database().unwrap();
    let replica = Replica::postgres(db.connection_string()).await;
    conformance(replica.client.clone()).await;
    replica.stop().await;
}

#[tokio::test]
async fn memory_server_version_is_new_at_each_start() {
    let a = Memory::new().server_info().await.unwrap();
    let b = Memory::new().server_info().await.unwrap();
    assert_ne!(a.server_version, b.server_version);
}
