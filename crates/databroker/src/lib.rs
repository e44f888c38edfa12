//! The portcullis databroker: the cluster's only stateful role (design §6).
//!
//! - [`Storage`]: the databroker API as one trait: versioned records keyed by
//!   `(type, id)`, change streams, per-type options, leases. Implemented by
//!   the [`storage::memory`] and [`storage::postgres`] backends (in process)
//!   and by [`Client`] (gRPC to a remote databroker).
//! - [`service`]: `portcullis.databroker.v1.DataBrokerService` over any
//!   [`Storage`], behind shared-secret service auth.
//! - [`SyncClient`]: a local replica any role can embed: `SyncLatest`, then
//!   `Sync` forever, with typed lookups and read-your-writes waits.
//! - [`lease`]: run work only while holding a lease.
//! - [`serve`]: the role entry point the binary calls.

mod client;
mod convert;
mod error;
pub mod index;
pub mod lease;
mod record;
mod role;
pub mod service;
pub mod storage;
mod sync_client;

pub use client::Client;
pub use error::{BoxError, StorageError};
pub use record::{
    Data, Filter, LeaseId, Query, QueryPage, Record, RecordWrite, TypeOptions, Versions,
};
pub use role::{
    DatabrokerError, DatabrokerOptions, connect, connect_peers, connect_with, routes,
    routes_draining, serve, serve_storage,
};
pub use storage::{RecordStream, Snapshot, Storage, StorageOptions, open_storage};
pub use sync_client::{Progress, SyncClient};
