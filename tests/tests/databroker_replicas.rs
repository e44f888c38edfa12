//! Two databroker replicas on one PostgreSQL database, served in process: changes flow between
//! them, concurrent writers never make a subscriber miss or reorder a change, leases elect one
//! holder, TTL and capacity trim with tombstones, and every call needs the shared secret.

#[path = "databroker/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_databroker::{RecordWrite, Storage, StorageError, SyncClient, TypeOptions};
use portcullis_proto::databroker::v1 as pb;
use portcullis_testing::postgres;
use support::{Replica, assert_strictly_increasing, collect_until, put};

async fn two_replicas() -> (postgres::Database, Replica, Replica) {
    let db = postgres::database().unwrap();
    let a = Replica::postgres(db.connection_string()).await;
    let b = Replica::postgres(db.connection_string()).await;
    (db, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_through_a_arrives_on_sync_held_on_b_within_a_second() {
    let (_db, a, b) = two_replicas().await;
    let info = b.client.server_info().await.unwrap();
    let mut changes = b
        .client
        .sync(info.server_version, info.latest_record_version, None)
        .await
        .unwrap();
    let started = Instant::now();
    let written = a.client.put(vec![put("session", "s1", "1")]).await.unwrap();
    let seen = collect_until(&mut changes, Duration::from_secs(1), |r| !r.is_empty()).await;
    assert_eq!(seen[0].version, written[0].version);
    assert_eq!(seen[0].id, "s1");
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// The late-commit problem: many writers through both replicas; subscribers on both must see
/// every acknowledged write exactly once, in strictly increasing version order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_through_two_replicas_miss_and_reorder_nothing() {
    const WRITERS_PER_REPLICA: usize = 6;
    const PUTS_PER_WRITER: usize = 40;
    let (_db, a, b) = two_replicas().await;
    let info = a.client.server_info().await.unwrap();
    let mut subscribers = Vec::new();
    for replica in [&a, &b] {
        subscribers.push(
            replica
                .client
                .sync(info.server_version, info.latest_record_version, None)
                .await
                .unwrap(),
        );
    }
    let mut writers = Vec::new();
    for (r, replica) in [&a, &b].into_iter().enumerate() {
        for w in 0..WRITERS_PER_REPLICA {
            let client = replica.client.clone();
            writers.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..PUTS_PER_WRITER {
                    // Batches of 1-3 records, so transactions differ in size and timing.
                    let batch = (0..=(i % 3))
                        .map(|k| put("item", &format!("{r}-{w}-{i}-{k}"), "v"))
                        .collect();
                    let written = client.put(batch).await.expect("put");
                    acked.extend(written.into_iter().map(|r| r.version));
                }
                acked
            }));
        }
    }
    let mut acked = BTreeSet::new();
    for writer in writers {
        for version in writer.await.unwrap() {
            assert!(acked.insert(version), "version {version} assigned twice");
        }
    }
    let last = *acked.last().unwrap();
    for mut subscriber in subscribers {
        let seen = collect_until(&mut subscriber, Duration::from_secs(20), |r| {
            r.last().is_some_and(|r| r.version >= last)
        })
        .await;
        assert_strictly_increasing(&seen);
        let seen: BTreeSet<u64> = seen.iter().map(|r| r.version).collect();
        let missed: Vec<&u64> = acked.difference(&seen).collect();
        assert!(missed.is_empty(), "subscriber missed versions {missed:?}");
        let extra: Vec<&u64> = seen.difference(&acked).collect();
        assert!(
            extra.is_empty(),
            "subscriber saw unacknowledged versions {extra:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_race_has_one_winner_and_moves_when_the_holder_stops_renewing() {
    let (_db, a, b) = two_replicas().await;
    let ttl = Duration::from_millis(1500);
    let mut racers = Vec::new();
    for i in 0..10 {
        let client = if i % 2 == 0 {
            a.client.clone()
        } else {
            b.client.clone()
        };
        racers.push(tokio::spawn(async move {
            (i % 2, client.acquire_lease("refresh", ttl).await)
        }));
    }
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            (side, Ok(id)) => winners.push((side, id)),
            (_, Err(StorageError::LeaseHeld(_))) => {}
            (_, Err(other)) => panic!("unexpected lease error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer holds the lease");
    let (side, id) = winners.pop().unwrap();
    let (holder, other) = if side == 0 { (&a, &b) } else { (&b, &a) };

    // While renewed, it stays.
    holder
        .client
        .renew_lease("refresh", &id, ttl)
        .await
        .unwrap();
    assert!(matches!(
        other.client.acquire_lease("refresh", ttl).await,
        Err(StorageError::LeaseHeld(_))
    ));

    // The holder stops renewing: the other side gets it once it expires, not before.
    let stopped = Instant::now();
    let new_id = loop {
        match other.client.acquire_lease("refresh", ttl).await {
            Ok(id) => break id,
            Err(StorageError::LeaseHeld(_)) => {
                assert!(
                    stopped.elapsed() < Duration::from_secs(10),
                    "lease never moved"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(other) => panic!("unexpected lease error: {other:?}"),
        }
    };
    assert!(
        stopped.elapsed() >= Duration::from_millis(1000),
        "moved before expiry"
    );
    assert_ne!(new_id, id);
    // The old holder has lost it.
    assert!(matches!(
        holder.client.renew_lease("refresh", &id, ttl).await,
        Err(StorageError::LeaseLost(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_and_ttl_trim_records_and_subscribers_see_tombstones() {
    let (_db, a, b) = two_replicas().await;
    let info = b.client.server_info().await.unwrap();
    let mut changes = b
        .client
        .sync(info.server_version, info.latest_record_version, None)
        .await
        .unwrap();

    // Capacity 3: five puts leave the newest three; the two oldest become tombstones.
    a.client
        .set_options(
            "cap",
            TypeOptions {
                ttl: None,
                capacity: Some(3),
            },
        )
        .await
        .unwrap();
    for i in 0..5 {
        a.client
            .put(vec![put("cap", &format!("c{i}"), "v")])
            .await
            .unwrap();
    }
    let seen = collect_until(&mut changes, Duration::from_secs(5), |r| r.len() >= 7).await;
    assert_strictly_increasing(&seen);
    let tombstones: Vec<&str> = seen
        .iter()
        .filter(|r| r.deleted_at.is_some())
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(tombstones, ["c0", "c1"]);
    let page = b
        .client
        .query(portcullis_databroker::Query {
            kind: "cap".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total_count, 3);

    // TTL: records expire by cleanup and subscribers see their tombstones.
    a.client
        .set_options(
            "ttl",
            TypeOptions {
                ttl: Some(Duration::from_millis(300)),
                capacity: None,
            },
        )
        .await
        .unwrap();
    a.client
        .put(vec![put("ttl", "t1", "v"), put("ttl", "t2", "v")])
        .await
        .unwrap();
    let seen = collect_until(&mut changes, Duration::from_secs(10), |r| {
        r.iter()
            .filter(|r| r.kind == "ttl" && r.deleted_at.is_some())
            .count()
            == 2
    })
    .await;
    assert_strictly_increasing(&seen);
    assert!(b.client.get("ttl", "t1").await.unwrap().is_none());
    assert!(b.client.get("ttl", "t2").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_client_on_b_reads_writes_made_through_a() {
    let (_db, a, b) = two_replicas().await;
    a.client
        .put(vec![put("user", "before", "1")])
        .await
        .unwrap();
    let replica = SyncClient::new(b.client.clone());
    tokio::time::timeout(Duration::from_secs(5), replica.ready())
        .await
        .unwrap();
    assert!(replica.get("user", "before").is_some(), "snapshot loaded");

    let written = a
        .client
        .put(vec![RecordWrite::put(
            "session",
            "s1",
            portcullis_databroker::index::struct_data([("user_id", "alice")]),
        )])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(1), replica.wait_for(written[0].version))
        .await
        .expect("replica caught up within a second");
    assert_eq!(
        replica.get("session", "s1").unwrap().version,
        written[0].version
    );
    let found = replica.lookup("session", "user_id", "alice");
    assert_eq!(found.len(), 1);
    let decoded: prost_types_struct::Struct =
        replica.get_message("session", "s1").unwrap().unwrap();
    assert!(decoded.fields.contains_key("user_id"));

    let deleted = a
        .client
        .put(vec![RecordWrite::delete("session", "s1")])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(1), replica.wait_for(deleted[0].version))
        .await
        .unwrap();
    assert!(replica.get("session", "s1").is_none());
    assert!(replica.lookup("session", "user_id", "alice").is_empty());
}

mod prost_types_struct {
    pub(crate) use portcullis_proto::prost_types::Struct;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_valid_token_are_unauthenticated_and_health_is_served() {
    let (_db, a, _b) = two_replicas().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", a.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();

    // No token.
    let mut bare = pb::data_broker_service_client::DataBrokerServiceClient::new(channel.clone());
    let err = bare
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    // A token signed with another secret.
    let wrong = portcullis_grpc::ClientAuth::new(&portcullis_grpc::SharedSecret::from([1u8; 32]));
    let mut forged = pb::data_broker_service_client::DataBrokerServiceClient::with_interceptor(
        channel.clone(),
        wrong,
    );
    let err = forged
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = forged
        .put(pb::PutRequest { records: vec![] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    // The right secret.
    let right = portcullis_grpc::ClientAuth::new(&support::secret());
    let mut ok = pb::data_broker_service_client::DataBrokerServiceClient::with_interceptor(
        channel.clone(),
        right,
    );
    ok.server_info(pb::ServerInfoRequest {}).await.unwrap();

    // Health.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_in_process_and_over_grpc_see_the_same_records() {
    let (_db, a, b) = two_replicas().await;
    let written = a.storage.put(vec![put("k", "1", "x")]).await.unwrap();
    let got = b.client.get("k", "1").await.unwrap().unwrap();
    assert_eq!(got.version, written[0].version);
    let _: Arc<dyn Storage> = b.storage.clone();
}
