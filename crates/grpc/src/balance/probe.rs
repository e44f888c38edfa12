//! Endpoint health, asked over `grpc.health.v1.Health` on a connection of its own (the same
//! TLS settings as the calls): [`probe`] decides whether an endpoint may enter the rotation;
//! [`watch`] follows an endpoint in rotation and reports the moment it stops serving (its
//! server started draining, or the connection broke).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// How long a probe (connect, TLS handshake, `Check`) may take before the endpoint counts as
/// down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a watcher keeps its stream open after reporting, waiting for the rotation to
/// change (the server's drain waits for watchers to let go).
const ACK_WAIT: Duration = Duration::from_secs(1);

/// Why an endpoint is not taken into the rotation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    /// TCP connect or TLS handshake failed (refused, unreachable, certificate rejected).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server answered that it does not serve (it is draining).
    #[error("health reports {0:?}")]
    NotServing(ServingStatus),
    /// The health call failed.
    #[error("health check failed: {0}")]
    Call(String),
    /// No answer within the probe timeout.
    #[error("no answer within {PROBE_TIMEOUT:?}")]
    Timeout,
}

/// A watched endpoint stopped serving; the watcher waits for `ack` (the rotation changed)
/// before it lets go of its stream.
#[derive(Debug)]
pub(crate) struct Down<K> {
    pub(crate) key: K,
    pub(crate) ack: oneshot::Sender<()>,
}

fn request() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

/// Asks `endpoint` whether it serves. A server without the health service (a stock gRPC
/// server) counts as serving once it answers at all.
pub(crate) async fn probe(endpoint: Endpoint) -> Result<(), ProbeError> {
    let check = async {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ProbeError::Connect(error_chain(&e)))?;
        match HealthClient::new(channel).check(request()).await {
            Ok(response) => serving(response.get_ref()),
            Err(status) if status.code() == Code::Unimplemented => Ok(()),
            Err(status) => Err(ProbeError::Call(format!(
                "{:?}: {}",
                status.code(),
                status.message()
            ))),
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, check)
        .await
        .unwrap_or(Err(ProbeError::Timeout))
}

fn serving(response: &HealthCheckResponse) -> Result<(), ProbeError> {
    match response.status() {
        ServingStatus::Serving => Ok(()),
        other => Err(ProbeError::NotServing(other)),
    }
}

/// Follows `endpoint`'s health until it stops serving or the connection ends, then reports
/// `key` on `down`. Runs until then (the balancer aborts it when the endpoint leaves).
pub(crate) async fn watch<K: Copy + std::fmt::Debug>(
    endpoint: Endpoint,
    key: K,
    down: mpsc::UnboundedSender<Down<K>>,
) {
    let Ok(Ok(channel)) = tokio::time::timeout(PROBE_TIMEOUT, endpoint.connect()).await else {
        return report(key, &down, "cannot connect").await;
    };
    let mut stream = match HealthClient::new(channel).watch(request()).await {
        Ok(stream) => stream.into_inner(),
        // Nothing to watch: failed calls still eject the endpoint.
        Err(status) if status.code() == Code::Unimplemented => {
            return std::future::pending().await;
        }
        Err(_) => return report(key, &down, "health watch refused").await,
    };
    let why = loop {
        match stream.message().await {
            Ok(Some(response)) => {
                if serving(&response).is_err() {
                    break "not serving";
                }
            }
            Ok(None) => break "health watch ended",
            Err(_) => break "health watch failed",
        }
    };
    // The stream stays open until the rotation has changed.
    report(key, &down, why).await;
    drop(stream);
}

async fn report<K: std::fmt::Debug>(key: K, down: &mpsc::UnboundedSender<Down<K>>, why: &str) {
    tracing::debug!(endpoint = ?key, why, "endpoint stopped serving");
    let (ack, acked) = oneshot::channel();
    if down.send(Down { key, ack }).is_ok() {
        let _ = tokio::time::timeout(ACK_WAIT, acked).await;
    }
}

/// `error` and its causes, `: `-separated (tonic's own message is often just "transport
/// error"; the cause says "invalid peer certificate: ...").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}
