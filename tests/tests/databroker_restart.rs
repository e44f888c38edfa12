//! PostgreSQL restarts while a subscriber streams and a writer writes: afterwards the
//! subscriber has every acknowledged write, in order, and nothing acknowledged is lost.

#[path = "databroker/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use portcullis_databroker::SyncClient;
use portcullis_testing::postgres::Postgres;
use support::{Replica, assert_strictly_increasing, collect_until, put};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_loses_no_acknowledged_write() {
    // A server of our own: restarting the shared one would disturb other tests.
    let pg = std::sync::Arc::new(Postgres::start().unwrap());
    let db = pg.create_database().unwrap();
    let writer_side = Replica::postgres(db.connection_string()).await;
    let reader_side = Replica::postgres(db.connection_string()).await;

    let info = reader_side.client.server_info().await.unwrap();
    let mut subscriber = reader_side
        .client
        .sync(info.server_version, info.latest_record_version, None)
        .await
        .unwrap();
    let replica = SyncClient::new(reader_side.client.clone());

    // The writer writes one record at a time and keeps what was acknowledged.
    let (restarted_tx, restarted_rx) = tokio::sync::watch::channel(false);
    let client = writer_side.client.clone();
    let writer = tokio::spawn(async move {
        let mut acked = BTreeMap::new();
        let mut failures = 0;
        let mut after_restart = 0;
        for i in 0.. {
            let id = format!("w{i}");
            match client.put(vec![put("item", &id, "v")]).await {
                Ok(written) => {
                    acked.insert(written[0].version, id);
                    if *restarted_rx.borrow() {
                        after_restart += 1;
                    }
                }
                Err(_) => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            if after_restart >= 50 || i > 20_000 {
                break;
            }
        }
        (acked, failures)
    });

    // Restart once some writes went through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while writer_side
        .storage
        .server_info()
        .await
        .map_or(0, |v| v.latest_record_version)
        < 30
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no writes before restart"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restarting = pg.clone();
    tokio::task::spawn_blocking(move || restarting.restart())
        .await
        .unwrap()
        .unwrap();
    restarted_tx.send_replace(true);

    let (acked, failures) = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("writer finished")
        .unwrap();
    let last = *acked.keys().last().unwrap();
    eprintln!(
        "acknowledged {} writes, {failures} failed during the restart",
        acked.len()
    );

    // The raw change stream: every acknowledged version, strictly increasing.
    let seen = collect_until(&mut subscriber, Duration::from_secs(30), |r| {
        r.last().is_some_and(|r| r.version >= last)
    })
    .await;
    assert_strictly_increasing(&seen);
    let seen_versions: std::collections::BTreeSet<u64> = seen.iter().map(|r| r.version).collect();
    let missed: Vec<&u64> = acked
        .keys()
        .filter(|v| !seen_versions.contains(v))
        .collect();
    assert!(
        missed.is_empty(),
        "subscriber missed acknowledged versions {missed:?}"
    );

    // The synced replica and the database itself hold every acknowledged record.
    tokio::time::timeout(Duration::from_secs(30), replica.wait_for(last))
        .await
        .expect("replica caught up");
    for id in acked.values() {
        assert!(replica.get("item", id).is_some(), "replica lacks {id}");
        assert!(
            writer_side.storage.get("item", id).await.unwrap().is_some(),
            "database lost {id}"
        );
    }
}
