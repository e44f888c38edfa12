//! The process's metrics: one registry, every family registered once at first use, every
//! name prefixed `portcullis_`. Rendered in the OpenMetrics text format (which Prometheus
//! scrapes natively) by [`render`].
//!
//! Label values come from fixed sets (status classes, results, reason names, operation
//! names) or from the configuration (route ids, upstream labels); never from raw request
//! data, so cardinality stays bounded by the configuration.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

mod handles;
mod labels;

pub use handles::{OpenConnection, Operation, RouteMetrics, StatusClass, UpstreamMetrics};
use labels::*;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latencies: 1 ms to 10 s.
const HTTP_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// In-process work (policy evaluation, storage calls): 50 µs to 1 s.
const FAST_BUCKETS: [f64; 13] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn fast_histogram() -> Histogram {
    Histogram::new(FAST_BUCKETS)
}

/// Every metric family of the process. Reach it with [`metrics()`].
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) http_requests: Family<RouteLabels, Counter>,
    pub(crate) http_duration: Histograms<RouteLabels>,
    pub(crate) upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub(crate) upstream_connections_opened: Family<UpstreamLabels, Counter>,
    pub(crate) upstream_connections_open: Family<UpstreamLabels, Gauge>,
    authorize_decisions: Family<DecisionLabels, Counter>,
    authorize_reasons: Family<ReasonLabels, Counter>,
    authorize_duration: Histograms<ResultLabels>,
    grpc_server_calls: Family<GrpcLabels, Counter>,
    grpc_server_duration: Histograms<MethodLabels>,
    grpc_client_calls: Family<GrpcLabels, Counter>,
    grpc_client_duration: Histograms<MethodLabels>,
    pub(crate) databroker_operations: Family<OperationLabels, Counter>,
    pub(crate) databroker_duration: Histograms<BackendOperationLabels>,
    sync_lag: Gauge,
    sync_reconnects: Counter,
    config_reloads: Family<ResultLabels, Counter>,
    config_last_success: Gauge<f64, std::sync::atomic::AtomicU64>,
    session_refreshes: Family<ResultLabels, Counter>,
    build_info: Family<BuildLabels, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics (registered on first use).
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Every metric in the OpenMetrics text format ([`CONTENT_TYPE`]).
pub fn render() -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &metrics().registry);
    out
}

// === impl Metrics ===

impl Metrics {
    fn new() -> Metrics {
        let mut r = Registry::with_prefix("portcullis");
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
            upstream_errors: Family::default(),
            upstream_connections_opened: Family::default(),
            upstream_connections_open: Family::default(),
            authorize_decisions: Family::default(),
            authorize_reasons: Family::default(),
            authorize_duration: Family::new_with_constructor(fast_histogram),
            grpc_server_calls: Family::default(),
            grpc_server_duration: Family::new_with_constructor(http_histogram),
            grpc_client_calls: Family::default(),
            grpc_client_duration: Family::new_with_constructor(http_histogram),
            databroker_operations: Family::default(),
            databroker_duration: Family::new_with_constructor(fast_histogram),
            sync_lag: Gauge::default(),
            sync_reconnects: Counter::default(),
            config_reloads: Family::default(),
            config_last_success: Gauge::default(),
            session_refreshes: Family::default(),
            build_info: Family::default(),
            registry: Registry::default(),
        };
        // Name, help, metric: the exposition adds the `portcullis_` prefix (and `_total`).
        r.register(
            "http_requests",
            "Proxied requests by route and status class.",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to the response head, by route and status class.",
            m.http_duration.clone(),
        );
        r.register(
            "upstream_errors",
            "Upstream failures by route and kind (connect, timeout, protocol).",
            m.upstream_errors.clone(),
        );
        r.register(
            "upstream_connections_opened",
            "Upstream connections opened, by upstream.",
            m.upstream_connections_opened.clone(),
        );
        r.register(
            "upstream_connections_open",
            "Upstream connections open now (pooled or busy), by upstream.",
            m.upstream_connections_open.clone(),
        );
        r.register(
            "authorize_decisions",
            "Authorize decisions by result and status.",
            m.authorize_decisions.clone(),
        );
        r.register(
            "authorize_decision_reasons",
            "Reasons given by authorize decisions, by result.",
            m.authorize_reasons.clone(),
        );
        r.register(
            "authorize_duration_seconds",
            "Time to decide one authorize request, by result.",
            m.authorize_duration.clone(),
        );
        r.register(
            "grpc_server_calls",
            "gRPC calls served, by method and status code.",
            m.grpc_server_calls.clone(),
        );
        r.register(
            "grpc_server_duration_seconds",
            "gRPC calls served: time to the end of the call, by method.",
            m.grpc_server_duration.clone(),
        );
        r.register(
            "grpc_client_calls",
            "gRPC calls made to other roles, by method and status code.",
            m.grpc_client_calls.clone(),
        );
        r.register(
            "grpc_client_duration_seconds",
            "gRPC calls made: time to the answer, by method.",
            m.grpc_client_duration.clone(),
        );
        r.register(
            "databroker_operations",
            "Databroker storage operations by backend, operation and result.",
            m.databroker_operations.clone(),
        );
        r.register(
            "databroker_operation_duration_seconds",
            "Databroker storage operation latency by backend and operation.",
            m.databroker_duration.clone(),
        );
        r.register(
            "databroker_sync_lag_versions",
            "Record versions the local replica was behind the databroker when last checked.",
            m.sync_lag.clone(),
        );
        r.register(
            "databroker_sync_reconnects",
            "Times the local replica's sync stream was re-established.",
            m.sync_reconnects.clone(),
        );
        r.register(
            "config_reloads",
            "Configuration reloads by result.",
            m.config_reloads.clone(),
        );
        r.register(
            "config_last_reload_success_timestamp_seconds",
            "When the running configuration was loaded (Unix time).",
            m.config_last_success.clone(),
        );
        r.register(
            "session_refreshes",
            "Session token refreshes by result.",
            m.session_refreshes.clone(),
        );
        r.register(
            "build_info",
            "The running build (value is always 1).",
            m.build_info.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// Records the running build: `version` and, when known, `git_commit`.
    pub fn set_build_info(&self, version: &str, git_commit: &str) {
        self.build_info
            .get_or_create(&BuildLabels {
                version: version.to_owned(),
                git_commit: git_commit.to_owned(),
            })
            .set(1);
    }

    /// Records one authorize decision: `allow`, the response `status`, every reason, and
    /// how long it took. Allocates nothing (labels are static strings and numbers).
    pub fn authorize_decision(
        &self,
        allow: bool,
        status: u16,
        reasons: &[&'static str],
        took: Duration,
    ) {
        let result = if allow { "allow" } else { "deny" };
        self.authorize_decisions
            .get_or_create(&DecisionLabels { result, status })
            .inc();
        for &reason in reasons {
            self.authorize_reasons
                .get_or_create(&ReasonLabels { result, reason })
                .inc();
        }
        self.authorize_duration
            .get_or_create(&ResultLabels { result })
            .observe(took.as_secs_f64());
    }

    /// Records one gRPC call served: `method` is the full path (`/pkg.Service/Method`),
    /// `code` the gRPC status name.
    pub fn grpc_server_call(&self, method: &str, code: &'static str, took: Duration) {
        record_grpc(
            &self.grpc_server_calls,
            &self.grpc_server_duration,
            method,
            code,
            took,
        );
    }

    /// Records one gRPC call made to another role.
    pub fn grpc_client_call(&self, method: &str, code: &'static str, took: Duration) {
        record_grpc(
            &self.grpc_client_calls,
            &self.grpc_client_duration,
            method,
            code,
            took,
        );
    }

    /// Records how many record versions the local replica is behind.
    pub fn sync_lag(&self, versions: u64) {
        self.sync_lag
            .set(i64::try_from(versions).unwrap_or(i64::MAX));
    }

    /// Counts one re-established replica sync stream.
    pub fn sync_reconnect(&self) {
        self.sync_reconnects.inc();
    }

    /// Records a configuration load (`ok`: applied; else rejected). The first successful
    /// load at start-up counts as a success too, so the timestamp is never empty.
    pub fn config_reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.config_reloads
            .get_or_create(&ResultLabels { result })
            .inc();
        if ok {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            self.config_last_success.set(now.as_secs_f64());
        }
    }

    /// Counts one session refresh: `success`, `failure` (will be retried) or `revoked`
    /// (failed for good; the session was deleted).
    pub fn session_refresh(&self, result: &'static str) {
        self.session_refreshes
            .get_or_create(&ResultLabels { result })
            .inc();
    }
}

fn record_grpc(
    calls: &Family<GrpcLabels, Counter>,
    duration: &Histograms<MethodLabels>,
    method: &str,
    code: &'static str,
    took: Duration,
) {
    // A method the server does not have is the client's choice of string: never a label.
    let method = if code == "Unimplemented" {
        "unknown".to_owned()
    } else {
        method.to_owned()
    };
    duration
        .get_or_create(&MethodLabels {
            method: method.clone(),
        })
        .observe(took.as_secs_f64());
    calls.get_or_create(&GrpcLabels { method, code }).inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_renders_with_the_prefix() {
        let m = metrics();
        m.set_build_info("1.2.3", "abc");
        m.authorize_decision(
            false,
            403,
            &["email-unauthorized"],
            Duration::from_micros(80),
        );
        m.grpc_server_call("/x.Y/Z", "Ok", Duration::from_millis(2));
        m.grpc_server_call("/x.Y/Nope", "Unimplemented", Duration::from_millis(2));
        let text = render();
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("portcullis_build_info{version=\"1.2.3\",git_commit=\"abc\"} 1"));
        assert!(text.contains(
            "portcullis_authorize_decision_reasons_total{result=\"deny\",reason=\"email-unauthorized\"} 1"
        ));
        assert!(text.contains(
            "portcullis_grpc_server_calls_total{method=\"unknown\",code=\"Unimplemented\"} 1"
        ));
        assert!(!text.contains("Nope"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("portcullis_"), "{line}");
        }
    }
}
