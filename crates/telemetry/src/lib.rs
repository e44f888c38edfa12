//! Observability shared by every portcullis role.
//!
//! - [`metrics()`]: the process's Prometheus metrics (every name prefixed `portcullis_`),
//!   rendered by [`render`] for the `metrics_address` listener. Hot paths hold pre-built
//!   handles ([`RouteMetrics`], [`Operation`]) so recording allocates nothing.
//! - [`Health`]: what `/readyz`, `/status` and `grpc.health.v1` report: named components
//!   that are each ready or not, and whether the process is draining.

mod health;
mod metrics;

pub use health::{Health, HealthReport, ReadyCheck};
pub use metrics::{
    CONTENT_TYPE, Metrics, OpenConnection, Operation, RouteMetrics, StatusClass, UpstreamMetrics,
    metrics, render,
};
