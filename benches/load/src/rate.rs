//! The fixed-rate (open-loop) generator: requests are started on a schedule whatever the
//! responses do, so a slow system cannot slow the load down and hide its own latency.
//! Latency is measured from the moment each request is sent to its complete response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;

use crate::systems::{HOST, System};

/// A pooled HTTP/1.1 keep-alive client.
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// What a fixed-rate run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Requests sent (after the warm-up).
    pub sent: u64,
    /// Requests that failed or did not get `200`.
    pub failed: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// A client for the load.
pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// One `GET /` with the system's host and cookie; returns the status after reading the body.
pub async fn get(client: &HttpClient, system: &System) -> anyhow::Result<u16> {
    let mut request = http::Request::get(format!("http://{}/", system.addr)).header("host", HOST);
    if let Some(cookie) = &system.cookie {
        request = request.header("cookie", cookie);
    }
    let response = client.request(request.body(Empty::new())?).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

/// Sends `rate` requests per second to `system` for `duration` (after a one-second warm-up
/// at the same rate) and returns the latency distribution.
pub async fn run(system: &System, rate: u32, duration: Duration) -> anyhow::Result<Latency> {
    let client = client();
    let shared = Arc::new(system.clone());
    let period = Duration::from_secs(1) / rate.max(1);
    let warm_up = u64::from(rate);
    let total = warm_up + (duration.as_secs_f64() * f64::from(rate)) as u64;
    let start = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..total {
        tokio::time::sleep_until(start + period * u32::try_from(i)?).await;
        let (client, system) = (client.clone(), Arc::clone(&shared));
        tasks.spawn(async move {
            let sent = Instant::now();
            let ok = matches!(get(&client, &system).await, Ok(200));
            (i, sent.elapsed(), ok)
        });
    }
    let mut latencies = Vec::with_capacity(total as usize);
    let mut failed = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, latency, ok) = joined?;
        if i < warm_up {
            continue;
        }
        if !ok {
            failed += 1;
        }
        latencies.push(latency);
    }
    latencies.sort_unstable();
    Ok(Latency {
        sent: latencies.len() as u64,
        failed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}

/// The value below which `q` of the sorted `values` fall.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn percentiles_of_a_hundred() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(super::percentile(&values, 0.5), Duration::from_millis(50));
        assert_eq!(super::percentile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(super::percentile(&[], 0.99), Duration::ZERO);
    }
}
