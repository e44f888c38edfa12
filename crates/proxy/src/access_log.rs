//! One `access` line per request (target [`TARGET`]), written when the response head is
//! ready: request id, method, host, path, status, route, upstream, duration.

use std::time::Instant;

/// The tracing target of access lines.
pub(crate) const TARGET: &str = "portcullis::access";

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
}

// === impl AccessLog ===

impl AccessLog {
    /// Writes the line for a response with `status`.
    pub(crate) fn write(&self, status: u16) {
        tracing::info!(
            target: TARGET,
            request_id = %self.request_id,
            method = %self.method,
            host = %self.host,
            path = %self.path,
            status,
            route = self.route.as_deref().unwrap_or(""),
            upstream = self.upstream.as_deref().unwrap_or(""),
            duration_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            "access"
        );
    }
}
