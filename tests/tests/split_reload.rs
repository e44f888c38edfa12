//! Reloading a split cluster's configuration under load (issue #12, "Done when"): every
//! process gets a file that adds one route and removes another, plus `SIGHUP`. Not one
//! request fails on the route that stays; the added route starts answering and the removed
//! one answers 404.

#[path = "split/support.rs"]
mod support;

use std::time::{Duration, Instant};

use portcullis_testing::cluster::Spec;
use portcullis_testing::load::{Load, request_once};
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::wait;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_added_and_removed_by_sighup_fail_no_request_on_the_others() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let routes = |hosts: &[&str]| support::routes(&upstream.url(), hosts);
    let mut cluster = support::start(Spec {
        routes: routes(&["keep", "old"]),
        ..Spec::default()
    })
    .await;
    let databroker = cluster.databroker_client().unwrap();
    let cookie = cluster
        .login(&databroker, "ann", "ann@example.com", &["staff"])
        .await;
    let keep = support::load_options(&cluster, "keep", &cookie, 100.0);
    let old = support::load_options(&cluster, "old", &cookie, 1.0);
    let new = support::load_options(&cluster, "new", &cookie, 1.0);
    support::wait_status(&keep, 200, Duration::from_secs(10)).await;
    assert_eq!(request_once(&old).await, Ok(200));
    assert_eq!(request_once(&new).await, Ok(404));

    let load = Load::start(keep);
    let started = Instant::now();
    load.wait_for_successes(100, started, Duration::from_secs(10))
        .await
        .unwrap();

    tokio::task::block_in_place(|| cluster.set_routes(&routes(&["keep", "new"]))).unwrap();
    let reloaded = Instant::now();
    support::wait_status(&new, 200, Duration::from_secs(10)).await;
    support::wait_status(&old, 404, Duration::from_secs(10)).await;
    let applied = reloaded.elapsed();
    // Every process applied it (authorize decides the new route, so it has it too).
    let processes = [&cluster.proxy, &cluster.authenticate]
        .into_iter()
        .chain(&cluster.authorize);
    for process in processes {
        wait::until(Duration::from_secs(10), "the reload to be logged", || {
            process
                .json_lines()
                .iter()
                .any(|l| l["message"] == "configuration reloaded" && l["reason"] == "SIGHUP")
                .then_some(())
        })
        .unwrap();
    }
    load.wait_for_successes(100, Instant::now(), Duration::from_secs(10))
        .await
        .unwrap();
    let report = load.stop().await;

    eprintln!("{}; applied after {applied:?}", report.summary());
    assert!(
        report.total() > 200,
        "too little load: {}",
        report.summary()
    );
    assert!(report.failures().is_empty(), "{}", report.summary());
    let during = report.between(reloaded, reloaded + applied);
    assert!(
        during.total() > 0,
        "requests were in flight during the reload"
    );
}
