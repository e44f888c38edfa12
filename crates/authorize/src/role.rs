//! The authorize role: what the binary starts for `services: authorize`.

use std::future::Future;
use std::sync::Arc;

use portcullis_config::Config;
use portcullis_databroker::Storage;
use portcullis_grpc::{DnsOptions, SharedSecret};
use tokio::net::TcpListener;

use crate::{AuthorizeError, Engine};

/// The databroker a split authorize reads from: a client of the first
/// `databroker_service_url`, balanced over every address DNS returns for its host
/// (`dns_refresh_rate`, `dns_resolvers`) and connecting lazily (the replica retries until
/// it is reachable). Must be called inside a tokio runtime.
pub fn connect_databroker(config: &Config) -> Result<Arc<dyn Storage>, AuthorizeError> {
    let url = config
        .databroker_service_urls
        .first()
        .ok_or(AuthorizeError::NoDatabroker)?;
    let secret = SharedSecret::from(*config.shared_secret.expose());
    let client = portcullis_databroker::connect_with(
        url.as_str(),
        &secret,
        &DnsOptions::from_config(config),
    )?;
    Ok(Arc::new(client))
}

/// Serves `Check` (plus gRPC health) for `engine` on `listener` until `shutdown` resolves,
/// then drains in-flight calls.
pub async fn serve(
    engine: Arc<Engine>,
    secret: &SharedSecret,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), AuthorizeError> {
    portcullis_grpc::serve(crate::check::routes(engine, secret), listener, shutdown).await?;
    Ok(())
}
