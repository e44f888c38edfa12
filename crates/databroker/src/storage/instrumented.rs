//! [`Instrumented`]: any [`Storage`] with its operations counted and timed for the metrics
//! (`portcullis_databroker_operations_total`, `portcullis_databroker_operation_duration_seconds`,
//! labeled with the backend: `memory`, `postgres`, or `remote` for a gRPC client). The
//! handles are built once; a call records with two atomic adds and a short lock. For
//! `sync_latest` and `sync` the time is to the opened stream, not its end.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_telemetry::Operation;
use tonic::Code;

use crate::StorageError;
use crate::record::{LeaseId, Query, QueryPage, Record, RecordWrite, TypeOptions, Versions};
use crate::storage::{RecordStream, Snapshot, Storage};

/// The full path of a databroker gRPC method, as the metrics label it.
macro_rules! method {
    ($name:literal) => {
        concat!("/portcullis.databroker.v1.DataBrokerService/", $name)
    };
}

/// A storage whose calls are recorded in the metrics.
#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn Storage>,
    ops: Ops,
    /// `inner` is a gRPC client: record its calls as gRPC client calls too.
    remote: bool,
}

#[derive(Debug)]
struct Ops {
    get: Operation,
    put: Operation,
    patch: Operation,
    query: Operation,
    list_types: Operation,
    server_info: Operation,
    set_options: Operation,
    get_options: Operation,
    acquire_lease: Operation,
    renew_lease: Operation,
    release_lease: Operation,
    sync_latest: Operation,
    sync: Operation,
}

impl Instrumented {
    /// Wraps `inner`, recording under `backend`.
    pub fn new(backend: &'static str, inner: Arc<dyn Storage>) -> Instrumented {
        let op = |name| Operation::new(backend, name);
        Instrumented {
            inner,
            remote: backend == "remote",
            ops: Ops {
                get: op("get"),
                put: op("put"),
                patch: op("patch"),
                query: op("query"),
                list_types: op("list_types"),
                server_info: op("server_info"),
                set_options: op("set_options"),
                get_options: op("get_options"),
                acquire_lease: op("acquire_lease"),
                renew_lease: op("renew_lease"),
                release_lease: op("release_lease"),
                sync_latest: op("sync_latest"),
                sync: op("sync"),
            },
        }
    }
}

impl Instrumented {
    /// Runs `call`, recording its outcome in `op` (and, for a remote storage, as gRPC
    /// client call `method`).
    async fn timed<T>(
        &self,
        op: &Operation,
        method: &'static str,
        call: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let started = Instant::now();
        let result = call.await;
        let took = started.elapsed();
        op.record(result.is_ok(), took);
        if self.remote {
            let code = result.as_ref().map_or_else(code_of, |_| Code::Ok);
            portcullis_telemetry::metrics().grpc_client_call(
                method,
                portcullis_grpc::metrics::code_name(code),
                took,
            );
        }
        result
    }
}

/// The gRPC code a remote call's error came from.
fn code_of(error: &StorageError) -> Code {
    match error {
        StorageError::InvalidArgument(_) => Code::InvalidArgument,
        StorageError::NotFound { .. } => Code::NotFound,
        StorageError::LeaseHeld(_) => Code::AlreadyExists,
        StorageError::LeaseLost(_) => Code::FailedPrecondition,
        StorageError::Aborted(_) => Code::Aborted,
        StorageError::Unavailable(_) => Code::Unavailable,
        StorageError::Internal(_) => Code::Internal,
        StorageError::Remote(status) => status.code(),
    }
}

#[async_trait::async_trait]
impl Storage for Instrumented {
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>, StorageError> {
        self.timed(&self.ops.get, method!("Get"), self.inner.get(kind, id))
            .await
    }

    async fn put(&self, writes: Vec<RecordWrite>) -> Result<Vec<Record>, StorageError> {
        self.timed(&self.ops.put, method!("Put"), self.inner.put(writes))
            .await
    }

    async fn patch(
        &self,
        writes: Vec<RecordWrite>,
        paths: Vec<String>,
    ) -> Result<Vec<Record>, StorageError> {
        self.timed(
            &self.ops.patch,
            method!("Patch"),
            self.inner.patch(writes, paths),
        )
        .await
    }

    async fn query(&self, query: Query) -> Result<QueryPage, StorageError> {
        self.timed(&self.ops.query, method!("Query"), self.inner.query(query))
            .await
    }

    async fn list_types(&self) -> Result<Vec<String>, StorageError> {
        self.timed(
            &self.ops.list_types,
            method!("ListTypes"),
            self.inner.list_types(),
        )
        .await
    }

    async fn server_info(&self) -> Result<Versions, StorageError> {
        self.timed(
            &self.ops.server_info,
            method!("ServerInfo"),
            self.inner.server_info(),
        )
        .await
    }

    async fn set_options(&self, kind: &str, options: TypeOptions) -> Result<(), StorageError> {
        self.timed(
            &self.ops.set_options,
            method!("SetOptions"),
            self.inner.set_options(kind, options),
        )
        .await
    }

    async fn get_options(&self, kind: &str) -> Result<TypeOptions, StorageError> {
        self.timed(
            &self.ops.get_options,
            method!("GetOptions"),
            self.inner.get_options(kind),
        )
        .await
    }

    async fn acquire_lease(&self, name: &str, ttl: Duration) -> Result<LeaseId, StorageError> {
        self.timed(
            &self.ops.acquire_lease,
            method!("AcquireLease"),
            self.inner.acquire_lease(name, ttl),
        )
        .await
    }

    async fn renew_lease(
        &self,
        name: &str,
        id: &LeaseId,
        ttl: Duration,
    ) -> Result<(), StorageError> {
        self.timed(
            &self.ops.renew_lease,
            method!("RenewLease"),
            self.inner.renew_lease(name, id, ttl),
        )
        .await
    }

    async fn release_lease(&self, name: &str, id: &LeaseId) -> Result<(), StorageError> {
        self.timed(
            &self.ops.release_lease,
            method!("ReleaseLease"),
            self.inner.release_lease(name, id),
        )
        .await
    }

    async fn sync_latest(&self, kind: Option<&str>) -> Result<Snapshot, StorageError> {
        self.timed(
            &self.ops.sync_latest,
            method!("SyncLatest"),
            self.inner.sync_latest(kind),
        )
        .await
    }

    async fn sync(
        &self,
        server_version: u64,
        after: u64,
        kind: Option<&str>,
    ) -> Result<RecordStream, StorageError> {
        self.timed(
            &self.ops.sync,
            method!("Sync"),
            self.inner.sync(server_version, after, kind),
        )
        .await
    }
}
