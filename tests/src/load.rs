//! A steady-rate HTTP load generator: a few workers, each on its own keep-alive HTTP/1.1
//! connection (hyper), send requests at a fixed total rate and record every request's
//! outcome with its start and end time, so a test can assert the failure fraction and how
//! long traffic took to recover after an event ([`Report`]).
//!
//! The rate is open-loop per worker: a worker whose request is slow skips the ticks it
//! missed (and records nothing for them) rather than bursting afterwards, so a stall shows
//! up as a gap in [`Report::longest_gap`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What to send and how fast.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where to connect (the proxy's listener).
    pub target: SocketAddr,
    /// The `Host` header (the route's host, with a port if the route has one).
    pub host: String,
    /// Path and query.
    pub path: String,
    /// Extra request headers (a session cookie, `Authorization: Bearer ...`).
    pub headers: Vec<(String, String)>,
    /// Requests per second over all workers.
    pub rate: f64,
    /// Concurrent workers, one keep-alive connection each.
    pub workers: usize,
    /// A request without a response head and body within this counts as failed.
    pub timeout: Duration,
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the request was sent.
    pub started: Instant,
    /// When its response ended (or the request failed).
    pub finished: Instant,
    /// The response status, or why there was none.
    pub result: Result<u16, String>,
}

/// A running load; [`Load::stop`] ends it and returns the [`Report`].
#[derive(Debug)]
pub struct Load {
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
}

/// Every outcome of a run, in order of start time.
#[derive(Debug, Clone)]
pub struct Report {
    /// The outcomes.
    pub outcomes: Vec<Outcome>,
}

impl LoadOptions {
    /// `GET path` with `Host: host` at `rate` per second from 4 workers, 5 s timeout.
    pub fn new(target: SocketAddr, host: &str, path: &str, rate: f64) -> LoadOptions {
        LoadOptions {
            target,
            host: host.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            rate,
            workers: 4,
            timeout: Duration::from_secs(5),
        }
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> LoadOptions {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

// === impl Load ===

impl Load {
    /// Starts the workers. Call inside a tokio runtime.
    pub fn start(options: LoadOptions) -> Load {
        let workers = options.workers.max(1);
        let period = Duration::from_secs_f64(workers as f64 / options.rate.max(0.001));
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let (stop, stopped) = watch::channel(false);
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let options = Arc::new(options);
        let handles = (0..workers)
            .map(|n| {
                let (client, options, outcomes, stopped) = (
                    client.clone(),
                    Arc::clone(&options),
                    Arc::clone(&outcomes),
                    stopped.clone(),
                );
                // Spread the workers' ticks over one period.
                let offset = period.mul_f64(n as f64 / workers as f64);
                tokio::spawn(worker(client, options, outcomes, stopped, period, offset))
            })
            .collect();
        Load {
            stop,
            workers: handles,
            outcomes,
        }
    }

    /// The outcomes recorded so far.
    pub fn report(&self) -> Report {
        Report::new(self.outcomes.lock().expect("outcomes lock").clone())
    }

    /// Waits until at least `n` requests have succeeded after `since`, at most `timeout`.
    pub async fn wait_for_successes(
        &self,
        n: usize,
        since: Instant,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        crate::wait::until_async(timeout, &format!("{n} successful requests"), || async {
            (self.report().successes_since(since) >= n).then_some(())
        })
        .await
    }

    /// Stops the workers (requests in flight finish) and returns every outcome.
    pub async fn stop(self) -> Report {
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        Report::new(self.outcomes.lock().expect("outcomes lock").clone())
    }
}

async fn worker(
    client: Client<HttpConnector, Empty<Bytes>>,
    options: Arc<LoadOptions>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    mut stopped: watch::Receiver<bool>,
    period: Duration,
    offset: Duration,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let result = send(&client, &options).await;
        outcomes.lock().expect("outcomes lock").push(Outcome {
            started,
            finished: Instant::now(),
            result,
        });
    }
}

/// Sends one request as the workers do, on a connection of its own: the status, or why
/// there was none.
pub async fn request_once(options: &LoadOptions) -> Result<u16, String> {
    send(&Client::builder(TokioExecutor::new()).build_http(), options).await
}

async fn send(
    client: &Client<HttpConnector, Empty<Bytes>>,
    options: &LoadOptions,
) -> Result<u16, String> {
    let uri = format!("http://{}{}", options.target, options.path);
    let mut request = http::Request::get(&uri).header(http::header::HOST, &options.host);
    for (name, value) in &options.headers {
        request = request.header(name, value);
    }
    let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
    tokio::time::timeout(options.timeout, async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        // Read the whole body: the request counts once it has fully arrived.
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?;
        Ok(status)
    })
    .await
    .unwrap_or_else(|_| Err(format!("no response within {:?}", options.timeout)))
}

// === impl Outcome ===

impl Outcome {
    /// A 2xx response.
    pub fn is_ok(&self) -> bool {
        matches!(self.result, Ok(status) if (200..300).contains(&status))
    }
}

// === impl Report ===

impl Report {
    fn new(mut outcomes: Vec<Outcome>) -> Report {
        outcomes.sort_by_key(|o| o.started);
        Report { outcomes }
    }

    /// How many requests were sent.
    pub fn total(&self) -> usize {
        self.outcomes.len()
    }

    /// The requests that did not get a 2xx response.
    pub fn failures(&self) -> Vec<&Outcome> {
        self.outcomes.iter().filter(|o| !o.is_ok()).collect()
    }

    /// Failed requests as a fraction of all (0 when nothing was sent).
    pub fn failure_fraction(&self) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        self.failures().len() as f64 / self.outcomes.len() as f64
    }

    /// Successful requests sent at or after `since`.
    pub fn successes_since(&self, since: Instant) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.started >= since && o.is_ok())
            .count()
    }

    /// How long after `event` traffic was back to all-success: the end of the last failed
    /// request that was still in flight at or sent after `event` (zero when none failed).
    pub fn recovery_after(&self, event: Instant) -> Duration {
        self.outcomes
            .iter()
            .filter(|o| o.finished >= event && !o.is_ok())
            .map(|o| o.finished - event)
            .max()
            .unwrap_or_default()
    }

    /// The longest time between `from` and `to` in which no successful response arrived.
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut ends: Vec<Instant> = self
            .outcomes
            .iter()
            .filter(|o| o.is_ok() && o.finished > from && o.finished < to)
            .map(|o| o.finished)
            .collect();
        ends.sort();
        let mut gap = Duration::ZERO;
        let mut last = from;
        for end in ends.into_iter().chain([to]) {
            gap = gap.max(end - last);
            last = end;
        }
        gap
    }

    /// The outcomes of requests sent between `from` and `to`.
    pub fn between(&self, from: Instant, to: Instant) -> Report {
        Report {
            outcomes: self
                .outcomes
                .iter()
                .filter(|o| o.started >= from && o.started < to)
                .cloned()
                .collect(),
        }
    }

    /// One line for test output: totals and the first few failures.
    pub fn summary(&self) -> String {
        let failures = self.failures();
        let first = self.outcomes.first().map(|o| o.started);
        let shown: Vec<String> = failures
            .iter()
            .take(5)
            .map(|o| {
                let at = first.map_or(Duration::ZERO, |f| o.started - f);
                format!("at {at:?}: {:?}", o.result)
            })
            .collect();
        format!(
            "{} requests, {} failed ({:.3}%){}{}",
            self.total(),
            failures.len(),
            100.0 * self.failure_fraction(),
            if shown.is_empty() { "" } else { "; first: " },
            shown.join("; ")
        )
    }
}
