//! The databroker role: what the binary starts for `services: databroker`.

use std::future::Future;
use std::sync::Arc;

use portcullis_grpc::{ClientAuth, DnsOptions, PeerOptions, ServerAuth, SharedSecret};
use portcullis_proto::databroker::v1::data_broker_service_server::DataBrokerServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;

use crate::service::Service;
use crate::storage::{Storage, StorageOptions, open_storage};
use crate::{Client, StorageError};

/// Largest message accepted (a big `Put` batch).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Everything the databroker role needs.
#[derive(Debug, Clone)]
pub struct DatabrokerOptions {
    /// Where records live.
    pub storage: StorageOptions,
    /// Authenticates calls from the other roles.
    pub shared_secret: SharedSecret,
}

/// Why the role could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DatabrokerError {
    /// Opening the storage failed (Postgres unreachable for 30 s, bad
    /// connection string, failed migration).
    #[error("opening databroker storage failed")]
    Storage(#[from] StorageError),
    /// The gRPC server failed.
    #[error(transparent)]
    Serve(#[from] portcullis_grpc::ServeError),
    /// The databroker URL is unusable.
    #[error(transparent)]
    Channel(#[from] portcullis_grpc::ChannelError),
}

/// The databroker's gRPC routes over `storage`, behind service auth: mount
/// them on a shared gRPC listener (all-in-one) or pass them to
/// [`portcullis_grpc::serve`].
pub fn routes(storage: Arc<dyn Storage>, secret: &SharedSecret) -> Routes {
    let (_never, draining) = watch::channel(false);
    routes_draining(storage, secret, draining)
}

/// [`routes`] whose open `Sync` streams end with `UNAVAILABLE` once `draining`
/// turns true (graceful shutdown would otherwise wait for them forever).
pub fn routes_draining(
    storage: Arc<dyn Storage>,
    secret: &SharedSecret,
    draining: watch::Receiver<bool>,
) -> Routes {
    let server = DataBrokerServiceServer::new(Service::with_draining(storage, draining))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let auth = ServerAuth::new(secret);
    Routes::new(tonic::service::interceptor::InterceptedService::new(
        server, auth,
    ))
}

/// Opens the storage and serves the databroker (plus gRPC health) on
/// `listener` until `shutdown` resolves.
pub async fn serve(
    options: DatabrokerOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DatabrokerError> {
    let storage = open_storage(&options.storage).await?;
    serve_storage(storage, &options.shared_secret, listener, shutdown).await
}

/// Serves an already opened storage (shared with in-process roles).
pub async fn serve_storage(
    storage: Arc<dyn Storage>,
    secret: &SharedSecret,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DatabrokerError> {
    let (drain_tx, draining) = watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = drain_tx.send(true);
    };
    let routes = routes_draining(storage, secret, draining);
    portcullis_grpc::serve(routes, listener, shutdown).await?;
    Ok(())
}

/// A client of the databroker at `url` (e.g. `http://databroker:5443`),
/// connecting lazily.
pub fn connect(url: &str, secret: &SharedSecret) -> Result<Client, DatabrokerError> {
    let channel = portcullis_grpc::connect_lazy(url)?;
    Ok(Client::new(channel, ClientAuth::new(secret)))
}

/// A client of every databroker replica DNS returns for the host of `url`, balanced and
/// re-resolved per `dns` (see [`portcullis_grpc::connect_balanced`]). Must be called inside
/// a tokio runtime.
pub fn connect_with(
    url: &str,
    secret: &SharedSecret,
    dns: &DnsOptions,
) -> Result<Client, DatabrokerError> {
    let channel = portcullis_grpc::connect_balanced(url, dns)?;
    Ok(Client::balanced(channel, ClientAuth::new(secret)))
}

/// A client of every databroker replica of every URL in `urls` (`databroker_service_urls`),
/// balanced, health-checked and re-resolved per `options` (see
/// [`portcullis_grpc::connect_peers`]). Must be called inside a tokio runtime.
pub fn connect_peers<U: AsRef<str>>(
    urls: &[U],
    secret: &SharedSecret,
    options: &PeerOptions,
) -> Result<Client, DatabrokerError> {
    let channel = portcullis_grpc::connect_peers(urls, options)?;
    Ok(Client::balanced(channel, ClientAuth::new(secret)))
}
