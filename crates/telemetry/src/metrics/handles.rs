//! Pre-built metric handles for hot paths: built once (per route at configuration compile,
//! per storage operation at start), then recording is an atomic add or a short lock, with no
//! label lookup and no allocation.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::labels::*;
use super::metrics;

/// The class of an HTTP status: `1xx` … `5xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 100–199.
    Informational,
    /// 200–299.
    Success,
    /// 300–399.
    Redirection,
    /// 400–499.
    ClientError,
    /// 500–599 (and anything out of range).
    ServerError,
}

const CLASSES: [StatusClass; 5] = [
    StatusClass::Informational,
    StatusClass::Success,
    StatusClass::Redirection,
    StatusClass::ClientError,
    StatusClass::ServerError,
];

/// A route's request counters and latency histograms, one per status class.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    by_class: [(Counter, Histogram); 5],
    upstream_connect: Counter,
    upstream_timeout: Counter,
    upstream_protocol: Counter,
}

/// One upstream's connection counts.
#[derive(Debug, Clone)]
pub struct UpstreamMetrics {
    opened: Counter,
    open: Gauge,
}

/// One storage operation of one backend: success and failure counters and a latency
/// histogram.
#[derive(Debug, Clone)]
pub struct Operation {
    ok: Counter,
    failed: Counter,
    duration: Histogram,
}

// === impl StatusClass ===

impl StatusClass {
    /// The class of `status`.
    pub fn of(status: u16) -> StatusClass {
        match status {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            _ => StatusClass::ServerError,
        }
    }

    /// `1xx` … `5xx`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Informational => "1xx",
            StatusClass::Success => "2xx",
            StatusClass::Redirection => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

// === impl RouteMetrics ===

impl RouteMetrics {
    /// The handles of route `route` (a route id; `-` for requests that matched none).
    pub fn new(route: &str) -> RouteMetrics {
        let m = metrics();
        let by_class = CLASSES.map(|class| {
            let labels = RouteLabels {
                route: route.to_owned(),
                status_class: class.as_str(),
            };
            (
                m.http_requests.get_or_create_owned(&labels),
                m.http_duration.get_or_create_owned(&labels),
            )
        });
        let error = |kind| {
            m.upstream_errors.get_or_create_owned(&UpstreamErrorLabels {
                route: route.to_owned(),
                kind,
            })
        };
        RouteMetrics {
            by_class,
            upstream_connect: error("connect"),
            upstream_timeout: error("timeout"),
            upstream_protocol: error("protocol"),
        }
    }

    /// Records one answered request.
    pub fn request(&self, status: u16, took: Duration) {
        let (count, duration) = &self.by_class[StatusClass::of(status).index()];
        count.inc();
        duration.observe(took.as_secs_f64());
    }

    /// Counts an upstream that refused or failed the connection.
    pub fn upstream_connect_error(&self) {
        self.upstream_connect.inc();
    }

    /// Counts an upstream that did not answer within the route's timeout.
    pub fn upstream_timeout(&self) {
        self.upstream_timeout.inc();
    }

    /// Counts an upstream that failed mid-exchange.
    pub fn upstream_protocol_error(&self) {
        self.upstream_protocol.inc();
    }
}

// === impl UpstreamMetrics ===

impl UpstreamMetrics {
    /// The handles of upstream `label` (`host:port`, from the configuration).
    pub fn new(label: &str) -> UpstreamMetrics {
        let m = metrics();
        let labels = UpstreamLabels {
            upstream: label.to_owned(),
        };
        UpstreamMetrics {
            opened: m.upstream_connections_opened.get_or_create_owned(&labels),
            open: m.upstream_connections_open.get_or_create_owned(&labels),
        }
    }

    /// Counts a new connection; the returned guard counts it closed when dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.opened.inc();
        self.open.inc();
        OpenConnection(self.open.clone())
    }
}

/// Keeps a connection counted as open until dropped.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

// === impl Operation ===

impl Operation {
    /// The handles of `operation` (`get`, `put`, …) on `backend` (`memory`, `postgres`,
    /// `remote`).
    pub fn new(backend: &'static str, operation: &'static str) -> Operation {
        let m = metrics();
        let count = |result| {
            m.databroker_operations
                .get_or_create_owned(&OperationLabels {
                    backend,
                    operation,
                    result,
                })
        };
        Operation {
            ok: count("ok"),
            failed: count("error"),
            duration: m
                .databroker_duration
                .get_or_create_owned(&BackendOperationLabels { backend, operation }),
        }
    }

    /// Records one call that took `took` and succeeded when `ok`.
    pub fn record(&self, ok: bool, took: Duration) {
        if ok { &self.ok } else { &self.failed }.inc();
        self.duration.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_land_in_their_status_class() {
        let route = RouteMetrics::new("handles-test");
        route.request(204, Duration::from_millis(3));
        route.request(503, Duration::from_millis(3));
        route.request(503, Duration::from_millis(3));
        let text = crate::render();
        assert!(text.contains(
            "portcullis_http_requests_total{route=\"handles-test\",status_class=\"2xx\"} 1"
        ));
        assert!(text.contains(
            "portcullis_http_requests_total{route=\"handles-test\",status_class=\"5xx\"} 2"
        ));
        assert_eq!(StatusClass::of(99), StatusClass::ServerError);
    }
}
