//! The process's readiness ([`Health`]): what every role of this process waits for before
//! `/readyz` (proxy or authenticate listener) and `grpc.health.v1` (gRPC listener) say ready.
//!
//! | component | ready when |
//! |---|---|
//! | `config` | the configuration loaded (always, once running) |
//! | `listeners` | every listener of the process is bound |
//! | `databroker` | the databroker (its storage, or the remote one) answered `ServerInfo` within the last probe |
//! | `databroker sync` | authorize's replica has its first snapshot (authorize role only) |
//!
//! Not ready, too, once shutdown has begun (draining).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_databroker::Storage;
use portcullis_telemetry::Health;
use tokio::sync::watch;

/// How often the databroker is probed once it has answered.
const PROBE_EVERY: Duration = Duration::from_secs(5);
/// How often it is probed until it first answers.
const PROBE_UNTIL_UP: Duration = Duration::from_millis(250);

/// What [`process_health`] returns.
#[derive(Debug)]
pub(crate) struct ProcessHealth {
    pub(crate) health: Health,
    /// Set once every listener is bound.
    pub(crate) listeners: Arc<AtomicBool>,
}

/// The process's readiness: `config`, `listeners`, `databroker` (probed in the background
/// while `stop` is false), `databroker sync` when `synced` is given; draining once `stop`.
pub(crate) fn process_health(
    databroker: Option<Arc<dyn Storage>>,
    synced: Option<portcullis_telemetry::ReadyCheck>,
    stop: watch::Receiver<bool>,
) -> ProcessHealth {
    let health = Health::default();
    health.add("config", Arc::new(|| true));
    let listeners = health.add_flag("listeners");
    if let Some(databroker) = databroker {
        let reachable = health.add_flag("databroker");
        tokio::spawn(probe(databroker, reachable, stop.clone()));
    }
    if let Some(synced) = synced {
        health.add("databroker sync", synced);
    }
    let draining = health.clone();
    tokio::spawn(async move {
        crate::roles::stopped(stop).await;
        draining.set_draining();
    });
    ProcessHealth { health, listeners }
}

/// Keeps `reachable` up to date with whether `databroker` answers `ServerInfo`.
async fn probe(
    databroker: Arc<dyn Storage>,
    reachable: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
) {
    loop {
        let ok = tokio::time::timeout(PROBE_EVERY, databroker.server_info())
            .await
            .is_ok_and(|r| r.is_ok());
        if reachable.swap(ok, Ordering::Relaxed) != ok {
            tracing::info!(reachable = ok, "databroker reachability changed");
        }
        let wait = if ok { PROBE_EVERY } else { PROBE_UNTIL_UP };
        let mut stop = stop.clone();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// `/readyz` and `/.portcullis/status` for a listener that is not the proxy's (authenticate
/// on its own), answering as the proxy does.
pub(crate) fn router(health: Health) -> axum::Router {
    let status = health.clone();
    axum::Router::new()
        .route(
            "/readyz",
            axum::routing::get(move |headers: HeaderMap| {
                let report = health.report();
                async move { readyz(&report, &headers) }
            }),
        )
        .route(
            "/.portcullis/status",
            axum::routing::get(move || {
                let mut body = status.report().to_json();
                body["version"] = env!("CARGO_PKG_VERSION").into();
                async move { json(StatusCode::OK, body.to_string()) }
            }),
        )
}

fn readyz(report: &portcullis_telemetry::HealthReport, headers: &HeaderMap) -> Response {
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if wants_json {
        return json(code, report.to_json().to_string());
    }
    let mut response = (code, report.text()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json(code: StatusCode, body: String) -> Response {
    let mut response = (code, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
