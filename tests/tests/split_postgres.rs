//! PostgreSQL stops and starts again under load in a split cluster (issue #12, "Done
//! when"): a signed-in user keeps being served by the authorize replicas' local copies during
//! the outage; every session write the databroker acknowledged (through its gRPC API, by
//! DNS) is readable afterwards; and the replicas' sync streams resume — a session written
//! after the restart is allowed, and one deleted after it is refused, by every replica.

#[path = "split/support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portcullis_databroker::{Data, RecordWrite, Storage as _};
use portcullis_proto::Session;
use portcullis_testing::cluster::Spec;
use portcullis_testing::load::Load;
use portcullis_testing::upstream::EchoUpstream;

/// How long PostgreSQL stays down, counted in requests served meanwhile (at `RATE`).
const SERVED_WHILE_DOWN: usize = 300;
const RATE: f64 = 150.0;

fn session_write(id: &str) -> RecordWrite {
    RecordWrite::put(
        Session::TYPE,
        id,
        Data {
            type_url: Session::TYPE_URL.to_owned(),
            value: Vec::new(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_loses_no_write_and_logged_in_users_stay_served() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let cluster = support::start(Spec {
        routes: support::routes(&upstream.url(), &["app"]),
        own_postgres: true,
        ..Spec::default()
    })
    .await;
    let databroker = cluster.databroker_client().unwrap();
    let (_, options) =
        support::signed_in(&cluster, &databroker, "ann", &["staff"], "app", RATE).await;
    let (_, carol_options) =
        support::signed_in(&cluster, &databroker, "carol", &[], "app", 1.0).await;
    let load = Load::start(options.clone());

    // A writer puts one session record at a time and keeps those acknowledged.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (client, writing) = (databroker.clone(), Arc::clone(&writing));
        tokio::spawn(async move {
            let (mut acked, mut failed) = (Vec::new(), 0);
            for i in 0.. {
                if !writing.load(Ordering::SeqCst) {
                    break;
                }
                let id = format!("written-{i}");
                match client.put(vec![session_write(&id)]).await {
                    Ok(_) => acked.push((id, Instant::now())),
                    Err(_) => {
                        failed += 1;
                        // Back off while the database is away (not a wait for a condition).
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (acked, failed)
        })
    };
    load.wait_for_successes(100, Instant::now(), Duration::from_secs(10))
        .await
        .unwrap();

    // The outage: users keep being served from the replicas.
    let pg = Arc::clone(cluster.postgres().unwrap());
    let stopped = Instant::now();
    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .unwrap()
        .unwrap();
    load.wait_for_successes(SERVED_WHILE_DOWN, Instant::now(), Duration::from_secs(15))
        .await
        .unwrap();
    let pg = Arc::clone(cluster.postgres().unwrap());
    tokio::task::spawn_blocking(move || pg.resume())
        .await
        .unwrap()
        .unwrap();
    let resumed = Instant::now();

    // Written after the restart: allowed. Deleted after it: refused by every replica (with
    // the replica on a sync stream, a session it has seen deleted is gone; one it never saw
    // deleted would still be allowed from its copy).
    portcullis_testing::wait::until_async(
        Duration::from_secs(30),
        "the databroker to take writes again",
        || async { databroker.put(vec![session_write("probe")]).await.ok() },
    )
    .await
    .unwrap();
    let bob = cluster
        .login(&databroker, "bob", "bob@example.com", &[])
        .await;
    support::wait_status(
        &support::load_options(&cluster, "app", &bob, 1.0),
        200,
        Duration::from_secs(10),
    )
    .await;
    databroker
        .put(vec![RecordWrite::delete(Session::TYPE, "session-carol")])
        .await
        .unwrap();
    support::wait_status_everywhere(&carol_options, 401, 20, Duration::from_secs(10)).await;

    writing.store(false, Ordering::SeqCst);
    let (acked, failed) = writer.await.unwrap();
    let report = load.stop().await;
    eprintln!(
        "{}; {} writes acknowledged, {failed} failed; down for {:?}",
        report.summary(),
        acked.len(),
        resumed - stopped
    );
    assert!(report.failures().is_empty(), "{}", report.summary());
    assert!(report.between(stopped, resumed).successes_since(stopped) >= SERVED_WHILE_DOWN);
    assert!(failed > 0, "the writer noticed the outage");
    let after = acked.iter().filter(|(_, at)| *at > resumed).count();
    eprintln!("{after} acknowledged after the restart");
    assert!(after > 0, "the writer wrote again after the restart");
    for (id, _) in &acked {
        let record = databroker.get(Session::TYPE, id).await.unwrap();
        assert!(record.is_some(), "acknowledged write {id} was lost");
    }
}
