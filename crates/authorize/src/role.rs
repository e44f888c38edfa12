//! The authorize role: what the binary starts for `services: authorize`.

use std::future::Future;
use std::sync::Arc;

use portcullis_config::Config;
use portcullis_databroker::{DatabrokerError, Storage};
use portcullis_grpc::{ChannelError, PeerOptions, SharedSecret};
use tokio::net::TcpListener;

use crate::{AuthorizeError, Engine};

/// The databroker a split role reads from: a client of every `databroker_service_urls`
/// entry, balanced over every address DNS returns for their hosts (`dns_refresh_rate`,
/// `dns_resolvers`), TLS for `https://` (trusting `certificate_authority`), connecting
/// lazily (the replica retries until it is reachable). Must be called inside a tokio
/// runtime.
pub fn connect_databroker(config: &Config) -> Result<Arc<dyn Storage>, AuthorizeError> {
    if config.databroker_service_urls.is_empty() {
        return Err(AuthorizeError::NoDatabroker);
    }
    let secret = SharedSecret::from(*config.shared_secret.expose());
    let options = PeerOptions::from_config(config)
        .map_err(|e| DatabrokerError::Channel(ChannelError::from(e)))?;
    let client =
        portcullis_databroker::connect_peers(&config.databroker_service_urls, &secret, &options)?;
    Ok(Arc::new(
        portcullis_databroker::storage::instrumented::Instrumented::new("remote", Arc::new(client)),
    ))
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
