//! The authorize role: what the binary starts for `services: authorize`.

use std::future::Future;
use std::sync::Arc;

use portcullis_config::Config;
use portcullis_databroker::Storage;
use portcullis_grpc::SharedSecret;
use tokio::net::TcpListener;

use crate::{AuthorizeError, Engine};

/// The databroker a split authorize reads from: a client of the first
/// `databroker_service_url`, connecting lazily (the replica retries until it is reachable).
pub fn connect_databroker(config: &Config) -> Result<Arc<dyn Storage>, AuthorizeError> {
    let url = config
        .databroker_service_urls
        .first()
        .ok_or(AuthorizeError::NoDatabroker)?;
    let secret = SharedSecret::from(*config.shared_secret.expose());
    let client = portcullis_databroker::connect(url.as_str(), &secret)?;
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
