//! [`Storage`] over gRPC: the databroker as seen from another process.
//!
//! On a DNS-balanced channel the reads that are safe to repeat (`Get`, `Query`,
//! `SyncLatest`) are retried once on another replica when theirs went away.

use std::time::Duration;

use futures_util::StreamExt;
use pb::data_broker_service_client::DataBrokerServiceClient;
use portcullis_grpc::{BalancedChannel, ClientAuth, Failover, retry_idempotent};
use portcullis_proto::databroker::v1 as pb;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::convert::*;
use crate::service::from_status;
use crate::storage::{RecordStream, Snapshot, Storage};
use crate::{LeaseId, Query, QueryPage, Record, RecordWrite, StorageError, TypeOptions, Versions};

/// Largest message accepted from the databroker (a `Put` answer of a big batch).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A remote databroker. Cheap to clone; clones share the channel.
#[derive(Debug, Clone)]
pub struct Client {
    grpc: DataBrokerServiceClient<InterceptedService<Channel, ClientAuth>>,
    failover: Failover,
}

impl Client {
    /// A client on `channel` whose calls are signed by `auth`.
    pub fn new(channel: Channel, auth: ClientAuth) -> Self {
        let grpc = DataBrokerServiceClient::with_interceptor(channel, auth)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        Self {
            grpc,
            failover: Failover::none(),
        }
    }

    /// A client on a DNS-balanced `channel`: idempotent reads that fail because their
    /// replica went away eject it and are retried on another.
    pub fn balanced(channel: BalancedChannel, auth: ClientAuth) -> Self {
        let (channel, failover) = channel.into_parts();
        Self {
            failover,
            ..Self::new(channel, auth)
        }
    }

    fn grpc(&self) -> DataBrokerServiceClient<InterceptedService<Channel, ClientAuth>> {
        self.grpc.clone()
    }
}

#[async_trait::async_trait]
impl Storage for Client {
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>, StorageError> {
        let req = pb::GetRequest {
            r#type: kind.to_owned(),
            id: id.to_owned(),
        };
        let result = retry_idempotent(&self.failover, || {
            let mut grpc = self.grpc();
            let req = req.clone();
            async move { grpc.get(req).await }
        });
        match result.await {
            Ok(resp) => Ok(resp.into_inner().record.map(record_from_pb)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(from_status(status)),
        }
    }

    async fn put(&self, writes: Vec<RecordWrite>) -> Result<Vec<Record>, StorageError> {
        let req = pb::PutRequest {
            records: writes.into_iter().map(write_to_pb).collect(),
        };
        let resp = self.grpc().put(req).await.map_err(from_status)?;
        Ok(resp
            .into_inner()
            .records
            .into_iter()
            .map(record_from_pb)
            .collect())
    }

    async fn patch(
        &self,
        writes: Vec<RecordWrite>,
        paths: Vec<String>,
    ) -> Result<Vec<Record>, StorageError> {
        let req = pb::PatchRequest {
            records: writes.into_iter().map(write_to_pb).collect(),
            field_mask: Some(prost_types::FieldMask { paths }),
        };
        let resp = self.grpc().patch(req).await.map_err(from_status)?;
        Ok(resp
            .into_inner()
            .records
            .into_iter()
            .map(record_from_pb)
            .collect())
    }

    async fn query(&self, query: Query) -> Result<QueryPage, StorageError> {
        let req = query_to_pb(query);
        let resp = retry_idempotent(&self.failover, || {
            let mut grpc = self.grpc();
            let req = req.clone();
            async move { grpc.query(req).await }
        })
        .await
        .map_err(from_status)?
        .into_inner();
        Ok(QueryPage {
            records: resp.records.into_iter().map(record_from_pb).collect(),
            total_count: resp.total_count,
            versions: Versions {
                server_version: resp.server_version,
                latest_record_version: resp.record_version,
            },
        })
    }

    async fn list_types(&self) -> Result<Vec<String>, StorageError> {
        let resp = self.grpc().list_types(pb::ListTypesRequest {}).await;
        Ok(resp.map_err(from_status)?.into_inner().types)
    }

    async fn server_info(&self) -> Result<Versions, StorageError> {
        let resp = self.grpc().server_info(pb::ServerInfoRequest {}).await;
        let versions = resp.map_err(from_status)?.into_inner().versions;
        Ok(versions_from_pb(versions.unwrap_or_default()))
    }

    async fn set_options(&self, kind: &str, options: TypeOptions) -> Result<(), StorageError> {
        let req = pb::SetOptionsRequest {
            r#type: kind.to_owned(),
            options: Some(options_to_pb(options)),
        };
        self.grpc().set_options(req).await.map_err(from_status)?;
        Ok(())
    }

    async fn get_options(&self, kind: &str) -> Result<TypeOptions, StorageError> {
        let req = pb::GetOptionsRequest {
            r#type: kind.to_owned(),
        };
        let resp = self.grpc().get_options(req).await.map_err(from_status)?;
        options_from_pb(resp.into_inner().options)
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<LeaseId, StorageError> {
        let req = pb::AcquireLeaseRequest {
            name: name.to_owned(),
            duration: Some(duration(ttl)),
        };
        match self.grpc().acquire_lease(req).await {
            Ok(resp) => Ok(LeaseId(resp.into_inner().id)),
            Err(s) if s.code() == Code::AlreadyExists => Err(StorageError::LeaseHeld(name.into())),
            Err(s) => Err(from_status(s)),
        }
    }

    async fn renew_lease(
        &self,
        name: &str,
        id: &LeaseId,
        ttl: Duration,
    ) -> Result<(), StorageError> {
        let req = pb::RenewLeaseRequest {
            name: name.to_owned(),
            id: id.0.clone(),
            duration: Some(duration(ttl)),
        };
        match self.grpc().renew_lease(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::FailedPrecondition => {
                Err(StorageError::LeaseLost(name.into()))
            }
            Err(s) => Err(from_status(s)),
        }
    }

    async fn release_lease(&self, name: &str, id: &LeaseId) -> Result<(), StorageError> {
        let req = pb::ReleaseLeaseRequest {
            name: name.to_owned(),
            id: id.0.clone(),
        };
        self.grpc().release_lease(req).await.map_err(from_status)?;
        Ok(())
    }

    async fn sync_latest(&self, kind: Option<&str>) -> Result<Snapshot, StorageError> {
        let req = pb::SyncLatestRequest {
            r#type: kind.unwrap_or_default().to_owned(),
        };
        // The whole snapshot is read before it is used, so a replica that goes away
        // mid-snapshot is retried like one that was down from the start.
        let snapshot = retry_idempotent(&self.failover, || {
            let grpc = self.grpc();
            let req = req.clone();
            read_snapshot(grpc, req)
        });
        snapshot.await.map_err(from_status)
    }

    async fn sync(
        &self,
        server_version: u64,
        after: u64,
        kind: Option<&str>,
    ) -> Result<RecordStream, StorageError> {
        let req = pb::SyncRequest {
            server_version,
            record_version: after,
            r#type: kind.unwrap_or_default().to_owned(),
        };
        let stream = self
            .grpc()
            .sync(req)
            .await
            .map_err(from_status)?
            .into_inner();
        Ok(Box::pin(stream.map(|item| match item {
            Ok(resp) => resp.record.map(record_from_pb).ok_or_else(|| {
                StorageError::Remote(tonic::Status::internal("sync response without record"))
            }),
            Err(status) => Err(from_status(status)),
        })))
    }
}

/// Reads a whole `SyncLatest` answer: the records, then the versions that end it.
async fn read_snapshot(
    mut grpc: DataBrokerServiceClient<InterceptedService<Channel, ClientAuth>>,
    req: pb::SyncLatestRequest,
) -> Result<Snapshot, tonic::Status> {
    use pb::sync_latest_response::Response as R;
    let mut stream = grpc.sync_latest(req).await?.into_inner();
    // The versions come last; a replica needs them before it can use the records.
    let mut records = Vec::new();
    loop {
        match stream.message().await? {
            Some(pb::SyncLatestResponse {
                response: Some(R::Record(r)),
            }) => records.push(Ok(record_from_pb(r))),
            Some(pb::SyncLatestResponse {
                response: Some(R::Versions(v)),
            }) => {
                return Ok(Snapshot {
                    versions: versions_from_pb(v),
                    records: Box::pin(futures_util::stream::iter(records)),
                });
            }
            Some(_) => {}
            None => {
                return Err(tonic::Status::unavailable(
                    "snapshot ended without versions",
                ));
            }
        }
    }
}
