//! Authorize replicas come and go under steady load through the proxy of a split cluster
//! (issue #12, "Done when"): one is SIGKILLed, a third is added to DNS, another is stopped
//! with SIGTERM. Fewer than 0.1% of requests fail, traffic is back to all-success within a
//! second of each event, and the added replica takes `Check` calls within
//! `dns_refresh_rate`.

#[path = "split/support.rs"]
mod support;

use std::time::{Duration, Instant};

use portcullis_testing::cluster::Spec;
use portcullis_testing::load::Load;
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::wait;

const REFRESH: Duration = Duration::from_millis(500);
/// What the test allows beyond `REFRESH` for dnsmasq and a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(500);
/// Requests per second through the proxy.
const RATE: f64 = 200.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_replicas_are_killed_added_and_stopped_under_load() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let mut cluster = support::start(Spec {
        routes: support::routes(&upstream.url(), &["app"]),
        dns_refresh_rate: REFRESH,
        ..Spec::default()
    })
    .await;
    let databroker = cluster.databroker_client().unwrap();
    let (_, options) =
        support::signed_in(&cluster, &databroker, "ann", &["staff"], "app", RATE).await;

    let load = Load::start(options);
    wait::until(Duration::from_secs(10), "both replicas to decide", || {
        (cluster.decisions(0) > 0 && cluster.decisions(1) > 0).then_some(())
    })
    .unwrap();
    let started = Instant::now();
    load.wait_for_successes(200, started, Duration::from_secs(10))
        .await
        .unwrap();

    // SIGKILL: connections cut, calls in flight lost; the other replica takes over.
    let killed = Instant::now();
    tokio::task::block_in_place(|| cluster.authorize[1].kill()).unwrap();
    load.wait_for_successes(400, killed, Duration::from_secs(10))
        .await
        .unwrap();

    // A third replica joins through DNS and gets `Check` calls within the refresh rate.
    let third = tokio::task::block_in_place(|| cluster.add_authorize()).unwrap();
    let added = Instant::now();
    wait::until(REFRESH + SLACK, "the added replica to decide", || {
        (cluster.decisions(third) > 0).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}; dnsmasq: {}", cluster.dns.log()));
    let joined = added.elapsed();
    load.wait_for_successes(200, Instant::now(), Duration::from_secs(10))
        .await
        .unwrap();

    // SIGTERM: the first replica drains and exits; the third carries the load alone.
    let terminated = Instant::now();
    let status = tokio::task::block_in_place(|| cluster.authorize[0].terminate()).unwrap();
    assert!(status.success(), "authorize exited with {status}");
    let exited = terminated.elapsed();
    let decided = cluster.decisions(third);
    load.wait_for_successes(400, Instant::now(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        cluster.decisions(third) > decided,
        "the remaining replica decides"
    );
    let ended = Instant::now();
    let report = load.stop().await;

    eprintln!(
        "{}; joined after {joined:?}; SIGTERM exit after {exited:?}",
        report.summary()
    );
    assert!(
        report.total() > 1000,
        "too little load: {}",
        report.summary()
    );
    assert!(
        report.failure_fraction() < 0.001,
        "too many failures: {}",
        report.summary()
    );
    for (event, at) in [("SIGKILL", killed), ("SIGTERM", terminated)] {
        let recovery = report.recovery_after(at);
        assert!(
            recovery < Duration::from_secs(1),
            "{event}: failures until {recovery:?} after: {}",
            report.summary()
        );
    }
    let gap = report.longest_gap(started, ended);
    assert!(
        gap < Duration::from_secs(1),
        "{gap:?} without a successful response"
    );
}
