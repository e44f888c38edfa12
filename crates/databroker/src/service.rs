//! `portcullis.databroker.v1.DataBrokerService` over any [`Storage`].
//!
//! A thin adapter: decode the request, call the storage, encode the answer;
//! errors are classified in `status.rs`.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt, stream};
use pb::data_broker_service_server::DataBrokerService;
use portcullis_proto::databroker::v1 as pb;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::convert::*;
use crate::{LeaseId, Storage};

mod status;

pub(crate) use status::from_status;
use status::to_status;

/// The gRPC service. Wrap it with
/// [`DataBrokerServiceServer::with_interceptor`](pb::data_broker_service_server::DataBrokerServiceServer::with_interceptor)
/// and [`portcullis_grpc::ServerAuth`] (see [`crate::routes`]).
#[derive(Debug, Clone)]
pub struct Service {
    storage: Arc<dyn Storage>,
    /// Turns true when the replica shuts down: open `Sync` streams then end with
    /// `UNAVAILABLE`, so clients reconnect to another replica instead of holding
    /// up the drain.
    draining: watch::Receiver<bool>,
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl Service {
    /// Serves `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        let (_never, draining) = watch::channel(false);
        Self { storage, draining }
    }

    /// Serves `storage`; long-lived streams end when `draining` turns true.
    pub fn with_draining(storage: Arc<dyn Storage>, draining: watch::Receiver<bool>) -> Self {
        Self { storage, draining }
    }
}

/// Resolves once `draining` turns true; never, if its sender is gone without that.
async fn drained(mut draining: watch::Receiver<bool>) {
    if draining.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn lease_duration(d: Option<prost_types::Duration>) -> Result<std::time::Duration, Status> {
    let d = d.ok_or_else(|| Status::invalid_argument("a lease needs a duration"))?;
    let d = std_duration(&d).map_err(to_status)?;
    if d.is_zero() {
        return Err(Status::invalid_argument(
            "a lease needs a positive duration",
        ));
    }
    Ok(d)
}

#[tonic::async_trait]
impl DataBrokerService for Service {
    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let req = req.into_inner();
        match self
            .storage
            .get(&req.r#type, &req.id)
            .await
            .map_err(to_status)?
        {
            Some(record) => Ok(Response::new(pb::GetResponse {
                record: Some(record_to_pb(record)),
            })),
            None => Err(Status::not_found("record not found")),
        }
    }

    async fn put(&self, req: Request<pb::PutRequest>) -> Result<Response<pb::PutResponse>, Status> {
        let writes = req
            .into_inner()
            .records
            .into_iter()
            .map(write_from_pb)
            .collect();
        let records = self.storage.put(writes).await.map_err(to_status)?;
        let versions = self.storage.server_info().await.map_err(to_status)?;
        Ok(Response::new(pb::PutResponse {
            server_version: versions.server_version,
            records: records.into_iter().map(record_to_pb).collect(),
        }))
    }

    async fn patch(
        &self,
        req: Request<pb::PatchRequest>,
    ) -> Result<Response<pb::PatchResponse>, Status> {
        let req = req.into_inner();
        let paths = req.field_mask.map(|m| m.paths).unwrap_or_default();
        let writes = req.records.into_iter().map(write_from_pb).collect();
        let records = self.storage.patch(writes, paths).await.map_err(to_status)?;
        let versions = self.storage.server_info().await.map_err(to_status)?;
        Ok(Response::new(pb::PatchResponse {
            server_version: versions.server_version,
            records: records.into_iter().map(record_to_pb).collect(),
        }))
    }

    async fn query(
        &self,
        req: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::QueryResponse>, Status> {
        let page = self
            .storage
            .query(query_from_pb(req.into_inner()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::QueryResponse {
            records: page.records.into_iter().map(record_to_pb).collect(),
            total_count: page.total_count,
            server_version: page.versions.server_version,
            record_version: page.versions.latest_record_version,
        }))
    }

    async fn list_types(
        &self,
        _: Request<pb::ListTypesRequest>,
    ) -> Result<Response<pb::ListTypesResponse>, Status> {
        let types = self.storage.list_types().await.map_err(to_status)?;
        Ok(Response::new(pb::ListTypesResponse { types }))
    }

    async fn server_info(
        &self,
        _: Request<pb::ServerInfoRequest>,
    ) -> Result<Response<pb::ServerInfoResponse>, Status> {
        let versions = self.storage.server_info().await.map_err(to_status)?;
        Ok(Response::new(pb::ServerInfoResponse {
            versions: Some(versions_to_pb(versions)),
        }))
    }

    async fn set_options(
        &self,
        req: Request<pb::SetOptionsRequest>,
    ) -> Result<Response<pb::SetOptionsResponse>, Status> {
        let req = req.into_inner();
        let options = options_from_pb(req.options).map_err(to_status)?;
        self.storage
            .set_options(&req.r#type, options)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SetOptionsResponse {
            options: Some(options_to_pb(options)),
        }))
    }

    async fn get_options(
        &self,
        req: Request<pb::GetOptionsRequest>,
    ) -> Result<Response<pb::GetOptionsResponse>, Status> {
        let kind = req.into_inner().r#type;
        let options = self.storage.get_options(&kind).await.map_err(to_status)?;
        Ok(Response::new(pb::GetOptionsResponse {
            options: Some(options_to_pb(options)),
        }))
    }

    async fn acquire_lease(
        &self,
        req: Request<pb::AcquireLeaseRequest>,
    ) -> Result<Response<pb::AcquireLeaseResponse>, Status> {
        let req = req.into_inner();
        let ttl = lease_duration(req.duration)?;
        let id = self
            .storage
            .acquire_lease(&req.name, ttl)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AcquireLeaseResponse { id: id.0 }))
    }

    async fn renew_lease(
        &self,
        req: Request<pb::RenewLeaseRequest>,
    ) -> Result<Response<pb::RenewLeaseResponse>, Status> {
        let req = req.into_inner();
        let ttl = lease_duration(req.duration)?;
        self.storage
            .renew_lease(&req.name, &LeaseId(req.id), ttl)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RenewLeaseResponse {}))
    }

    async fn release_lease(
        &self,
        req: Request<pb::ReleaseLeaseRequest>,
    ) -> Result<Response<pb::ReleaseLeaseResponse>, Status> {
        let req = req.into_inner();
        self.storage
            .release_lease(&req.name, &LeaseId(req.id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReleaseLeaseResponse {}))
    }

    type SyncLatestStream = BoxStream<pb::SyncLatestResponse>;

    async fn sync_latest(
        &self,
        req: Request<pb::SyncLatestRequest>,
    ) -> Result<Response<Self::SyncLatestStream>, Status> {
        let kind = req.into_inner().r#type;
        let snapshot = self
            .storage
            .sync_latest(kind_filter(&kind))
            .await
            .map_err(to_status)?;
        use pb::sync_latest_response::Response as R;
        let records = snapshot.records.map(|r| {
            r.map(|r| pb::SyncLatestResponse {
                response: Some(R::Record(record_to_pb(r))),
            })
            .map_err(to_status)
        });
        let end = stream::once(async move {
            Ok(pb::SyncLatestResponse {
                response: Some(R::Versions(versions_to_pb(snapshot.versions))),
            })
        });
        // Stop after the first error: the versions must not follow an
        // incomplete snapshot.
        let mut failed = false;
        let out = records.chain(end).take_while(move |item| {
            let keep = !failed;
            failed |= item.is_err();
            std::future::ready(keep)
        });
        Ok(Response::new(Box::pin(out)))
    }

    type SyncStream = BoxStream<pb::SyncResponse>;

    async fn sync(
        &self,
        req: Request<pb::SyncRequest>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        let req = req.into_inner();
        let changes = self
            .storage
            .sync(
                req.server_version,
                req.record_version,
                kind_filter(&req.r#type),
            )
            .await
            .map_err(to_status)?;
        let out = changes.map(|r| {
            r.map(|r| pb::SyncResponse {
                record: Some(record_to_pb(r)),
            })
            .map_err(to_status)
        });
        let out = out
            .take_until(drained(self.draining.clone()))
            .chain(stream::once(async {
                Err(Status::unavailable(
                    "the databroker replica is shutting down",
                ))
            }));
        Ok(Response::new(Box::pin(out)))
    }
}
