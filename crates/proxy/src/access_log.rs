//! One `access` line per request (target [`TARGET`]), written when the response head is
//! ready: request id, method, host, path, status, bytes, route, upstream, user, duration.
//! The same moment records the route's request metrics.

use std::sync::LazyLock;
use std::time::Instant;

use portcullis_telemetry::RouteMetrics;

/// The tracing target of access lines.
pub(crate) const TARGET: &str = "portcullis::access";

/// Metrics of requests that matched no route (`/ping`, unknown hosts, `404`s).
static UNROUTED: LazyLock<RouteMetrics> = LazyLock::new(|| RouteMetrics::new("-"));
/// Metrics of requests for the authenticate host served in process.
static AUTHENTICATE: LazyLock<RouteMetrics> = LazyLock::new(|| RouteMetrics::new("authenticate"));

/// What one request's access line says; filled in as the request moves along the pipeline.
#[derive(Debug)]
pub(crate) struct AccessLog {
    pub(crate) started: Instant,
    pub(crate) request_id: String,
    pub(crate) method: String,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) route: Option<String>,
    pub(crate) upstream: Option<String>,
    /// The signed-in user's id, when authorize allowed the request for one.
    pub(crate) user: String,
}

// === impl AccessLog ===

impl AccessLog {
    /// Writes the line for a response with `status` whose body is `bytes` long (when known
    /// at the head), and records it in `route`'s metrics (`None`: no route matched).
    pub(crate) fn write(&self, status: u16, bytes: Option<u64>, route: Option<&RouteMetrics>) {
        let took = self.started.elapsed();
        let metrics = match route {
            Some(route) => route,
            None if self.route.as_deref() == Some("authenticate") => &AUTHENTICATE,
            None => &UNROUTED,
        };
        metrics.request(status, took);
        tracing::info!(
            target: TARGET,
            request_id = %self.request_id,
            method = %self.method,
            host = %self.host,
            path = %self.path,
            status,
            bytes,
            route = self.route.as_deref().unwrap_or(""),
            upstream = self.upstream.as_deref().unwrap_or(""),
            user = %self.user,
            duration_ms = took.as_secs_f64() * 1000.0,
            "access"
        );
    }
}
