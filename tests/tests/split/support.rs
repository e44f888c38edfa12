//! Shared setup for the split-cluster tests: routes that need a signed-in `example.com`
//! user, the cluster started off the async threads, and waiting for a status.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use portcullis_testing::cluster::{Cluster, Spec};
use portcullis_testing::load::{LoadOptions, request_once};
use portcullis_testing::wait;

/// `http://<host>.example.test` → `upstream` for each host, allowing `example.com` users.
pub fn routes(upstream: &str, hosts: &[&str]) -> String {
    hosts
        .iter()
        .map(|host| {
            format!(
                "  - from: http://{host}.example.test\n\
                 \x20   to: {upstream}\n\
                 \x20   pass_identity_headers: true\n\
                 \x20   policy:\n\
                 \x20     - allow:\n\
                 \x20         or:\n\
                 \x20           - domain: {{is: example.com}}\n"
            )
        })
        .collect()
}

/// Starts the cluster on a blocking thread.
pub async fn start(spec: Spec) -> Cluster {
    tokio::task::spawn_blocking(move || Cluster::start(spec))
        .await
        .unwrap()
        .expect("the cluster starts")
}

/// `GET /` on `<host>.example.test` through the proxy with `cookie`, `rate` per second.
pub fn load_options(cluster: &Cluster, host: &str, cookie: &str, rate: f64) -> LoadOptions {
    LoadOptions::new(
        cluster.proxy_address(),
        &format!("{host}.example.test"),
        "/",
        rate,
    )
    .header("cookie", cookie)
}

/// Signs `name` (`<name>@example.com`, group `staff` unless `groups` says otherwise) in
/// through `databroker` and waits until the route `host` lets the cookie through; returns
/// the cookie and the load options for it at `rate`.
pub async fn signed_in(
    cluster: &Cluster,
    databroker: &portcullis_databroker::Client,
    name: &str,
    groups: &[&str],
    host: &str,
    rate: f64,
) -> (String, LoadOptions) {
    let cookie = cluster
        .login(databroker, name, &format!("{name}@example.com"), groups)
        .await;
    let options = load_options(cluster, host, &cookie, rate);
    wait_status(&options, 200, Duration::from_secs(10)).await;
    (cookie, options)
}

/// Waits (at most `timeout`) until one request with `options` answers `status`.
pub async fn wait_status(options: &LoadOptions, status: u16, timeout: Duration) {
    let last = std::sync::Mutex::new(Err(String::from("nothing sent")));
    let waited = wait::until_async(timeout, &format!("status {status}"), || async {
        let answer = request_once(options).await;
        let done = answer == Ok(status);
        *last.lock().unwrap() = answer;
        done.then_some(())
    })
    .await;
    if let Err(error) = waited {
        let last = last.lock().unwrap();
        panic!(
            "{error}: {}{} answered {last:?}",
            options.host, options.path
        );
    }
}

/// Waits (at most `timeout`) until `n` requests in a row answer `status`: with requests
/// spread over the authorize replicas, every replica answers it.
pub async fn wait_status_everywhere(
    options: &LoadOptions,
    status: u16,
    n: usize,
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    let (mut in_a_row, mut last) = (0, Err(String::from("nothing sent")));
    while in_a_row < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} answers {status} in a row within {timeout:?}: {}{} last answered {last:?}",
            options.host,
            options.path
        );
        last = request_once(options).await;
        in_a_row = if last == Ok(status) { in_a_row + 1 } else { 0 };
    }
}
