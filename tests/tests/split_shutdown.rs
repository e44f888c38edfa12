//! Graceful shutdown of the split proxy under load (issue #12, item 4): on SIGTERM it stops
//! accepting, finishes the requests in flight — every request sent before the signal gets
//! its answer — closes idle keep-alive connections instead of waiting on them, and exits
//! well within the grace period.

#[path = "split/support.rs"]
mod support;

use std::time::{Duration, Instant};

use portcullis_testing::cluster::Spec;
use portcullis_testing::load::{Load, request_once};
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::wait;

/// How long the upstream takes to answer the requests in flight at SIGTERM.
const SLOW: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_drains_in_flight_requests_and_exits_promptly() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let mut cluster = support::start(Spec {
        routes: support::routes(&upstream.url(), &["app"]),
        ..Spec::default()
    })
    .await;
    let databroker = cluster.databroker_client().unwrap();
    let (ann, options) =
        support::signed_in(&cluster, &databroker, "ann", &["staff"], "app", 100.0).await;
    let load = Load::start(options);
    let started = Instant::now();
    load.wait_for_successes(100, started, Duration::from_secs(10))
        .await
        .unwrap();

    // Requests the upstream takes a while to answer are in flight when the signal arrives.
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let mut slow = support::load_options(&cluster, "app", &ann, 1.0);
            slow.path = format!("/slow/{}", SLOW.as_millis());
            tokio::spawn(async move { request_once(&slow).await })
        })
        .collect();
    wait::until(
        Duration::from_secs(10),
        "the slow requests to arrive",
        || {
            let arrived = upstream
                .received()
                .iter()
                .filter(|r| r.path.starts_with("/slow/"))
                .count();
            (arrived == slow.len()).then_some(())
        },
    )
    .unwrap();

    let terminated = Instant::now();
    let status = tokio::task::block_in_place(|| cluster.proxy.terminate()).unwrap();
    let exited = terminated.elapsed();
    let report = load.stop().await;
    eprintln!("exited after {exited:?}; {}", report.summary());
    assert!(status.success(), "the proxy exited with {status}");
    assert!(
        exited < Duration::from_secs(5),
        "the proxy took {exited:?} to drain"
    );
    assert!(
        exited >= SLOW / 2,
        "the proxy exited before its requests were answered"
    );
    for request in slow {
        assert_eq!(
            request.await.unwrap(),
            Ok(200),
            "a request in flight at SIGTERM"
        );
    }
    let before = report.between(started, terminated);
    assert!(before.total() >= 100);
    assert!(
        before.failures().is_empty(),
        "requests sent before SIGTERM failed: {}",
        before.summary()
    );
    assert!(
        cluster.proxy.has_log("shutting down"),
        "the proxy logged its shutdown"
    );
}
