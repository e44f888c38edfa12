//! Serving gRPC routes on a bound listener: plain h2c, or TLS with a rustls configuration;
//! `grpc.health.v1.Health` alongside; on shutdown, the drain notice (see [`crate::health`])
//! before the listener closes, then in-flight calls finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::health::Health;

/// The longest a draining listener waits for health watchers to take it out of their
/// rotation before it stops accepting connections.
pub const DRAIN_NOTICE_LIMIT: Duration = Duration::from_secs(5);
/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const ACCEPT_BACKLOG: usize = 64;

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("grpc server failed: {0}")]
pub struct ServeError(#[from] tonic::transport::Error);

/// Serves `routes` plus `grpc.health.v1.Health` as plain h2c on `listener` until
/// `shutdown` resolves (see [`serve_with`]).
pub async fn serve(
    routes: Routes,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    serve_with(routes, listener, None, shutdown).await
}

/// Serves `routes` plus `grpc.health.v1.Health` on `listener` — TLS with `tls` (whose ALPN
/// must offer `h2`), else h2c — until `shutdown` resolves. Then health turns `NOT_SERVING`
/// while the listener still serves, until the clients watching it have moved away (at most
/// [`DRAIN_NOTICE_LIMIT`]); then the listener closes and in-flight calls drain.
///
/// The health service is deliberately not behind service auth: probes such as
/// Kubernetes' gRPC liveness checks carry no token, and it reveals nothing.
pub async fn serve_with(
    routes: Routes,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    serve_with_readiness(routes, listener, tls, None, shutdown).await
}

/// [`serve_with`], with health also `NOT_SERVING` while `ready` says no (the process's
/// readiness: e.g. until authorize's first databroker sync; see [`Health::follow`]).
pub async fn serve_with_readiness(
    routes: Routes,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    ready: Option<portcullis_telemetry::ReadyCheck>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let health = Health::default();
    if let Some(ready) = ready {
        health.follow(ready);
    }
    let routes = routes.add_service(health.service());
    let shutdown = async move {
        shutdown.await;
        health.drain(DRAIN_NOTICE_LIMIT).await;
    };
    let mut server = Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(crate::metrics::MetricsLayer);
    let router = server.add_routes(routes);
    match tls {
        // The builder's TCP options only reach sockets it binds itself; set them here.
        // Without TCP_NODELAY, replies wait ~40 ms on delayed ACKs.
        None => {
            let incoming = TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(Duration::from_secs(60)));
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?
        }
        Some(tls) => {
            router
                .serve_with_incoming_shutdown(tls_incoming(listener, tls), shutdown)
                .await?
        }
    }
    Ok(())
}

/// Accepts on `listener` and hands over connections whose TLS handshake succeeded;
/// handshakes run concurrently. The listener closes when the server drops the stream.
fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset while queued: keep serving.
                    tracing::warn!(%error, "accepting a gRPC connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%remote, %error, "gRPC TLS handshake failed");
                    }
                    Err(_) => tracing::debug!(%remote, "gRPC TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
