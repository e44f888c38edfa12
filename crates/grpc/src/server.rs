//! Serving gRPC routes on a bound listener.

use std::future::Future;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("grpc server failed: {0}")]
pub struct ServeError(#[from] tonic::transport::Error);

/// Serves `routes` plus `grpc.health.v1.Health` (reporting `SERVING`) on
/// `listener` until `shutdown` resolves, then drains in-flight calls.
///
/// The health service is deliberately not behind service auth: probes such as
/// Kubernetes' gRPC liveness checks carry no token, and it reveals nothing.
pub async fn serve(
    routes: Routes,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let routes = routes.add_service(health);
    Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .add_routes(routes)
        // The builder's TCP options only reach sockets it binds itself; set them here.
        // Without TCP_NODELAY, replies wait ~40 ms on delayed ACKs.
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(std::time::Duration::from_secs(60))),
            shutdown,
        )
        .await?;
    Ok(())
}
