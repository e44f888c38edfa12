//! Databroker replicas stop under load in a split cluster: SIGTERM drains one (its open
//! `Sync` streams end, the process exits promptly) and SIGKILL cuts the other after the
//! first came back. Each time the authorize replicas' sync streams resume on the replica
//! left — a session deleted afterwards is refused by every authorize replica — signed-in
//! users are served throughout, and writes by DNS keep being acknowledged.

#[path = "split/support.rs"]
mod support;

use std::time::{Duration, Instant};

use portcullis_databroker::{RecordWrite, Storage as _};
use portcullis_proto::Session;
use portcullis_testing::cluster::Spec;
use portcullis_testing::load::Load;
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::wait;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_streams_move_to_the_databroker_replica_left() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let mut cluster = support::start(Spec {
        routes: support::routes(&upstream.url(), &["app"]),
        ..Spec::default()
    })
    .await;
    let databroker = cluster.databroker_client().unwrap();
    let (_, options) =
        support::signed_in(&cluster, &databroker, "ann", &["staff"], "app", 100.0).await;
    let load = Load::start(options);

    for (n, event) in [(0, "SIGTERM"), (1, "SIGKILL")] {
        let name = format!("victim-{n}");
        let cookie = cluster
            .login(&databroker, &name, &format!("{name}@example.com"), &[])
            .await;
        let victim = support::load_options(&cluster, "app", &cookie, 1.0);
        support::wait_status(&victim, 200, Duration::from_secs(10)).await;

        let stopped = Instant::now();
        let status = tokio::task::block_in_place(|| match event {
            "SIGTERM" => cluster.databroker[n].terminate(),
            _ => cluster.databroker[n].kill(),
        })
        .unwrap();
        let exited = stopped.elapsed();
        if event == "SIGTERM" {
            assert!(status.success(), "databroker exited with {status}");
            assert!(exited < Duration::from_secs(5), "draining took {exited:?}");
        }

        // Writes by DNS reach the replica left (a write may fail once: Put is not retried).
        wait::until_async(
            Duration::from_secs(10),
            "a write to be acknowledged",
            || {
                let delete = RecordWrite::delete(Session::TYPE, format!("session-{name}"));
                let databroker = &databroker;
                async move { databroker.put(vec![delete]).await.ok() }
            },
        )
        .await
        .unwrap();
        // Every authorize replica hears of the deletion through its resumed stream.
        support::wait_status_everywhere(&victim, 401, 20, Duration::from_secs(10)).await;
        eprintln!(
            "{event}: exited after {exited:?}; deletion seen after {:?}",
            stopped.elapsed()
        );
        load.wait_for_successes(100, stopped, Duration::from_secs(10))
            .await
            .unwrap();
        if n == 0 {
            tokio::task::block_in_place(|| cluster.restart_databroker(0)).unwrap();
        }
    }

    let report = load.stop().await;
    eprintln!("{}", report.summary());
    assert!(
        report.total() > 200,
        "too little load: {}",
        report.summary()
    );
    assert!(report.failures().is_empty(), "{}", report.summary());
}
