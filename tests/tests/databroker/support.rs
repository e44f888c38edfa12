//! Shared setup for the databroker integration tests: replicas served in process on port-0
//! listeners, gRPC clients, test data.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use portcullis_databroker::index::struct_data;
use portcullis_databroker::{
    Client, Record, RecordStream, RecordWrite, Storage, StorageOptions, open_storage,
};
use portcullis_grpc::SharedSecret;
use tokio::sync::oneshot;

/// The secret every test replica and client shares.
pub fn secret() -> SharedSecret {
    SharedSecret::from([42u8; 32])
}

/// One databroker replica served in process.
pub struct Replica {
    pub addr: SocketAddr,
    pub storage: Arc<dyn Storage>,
    pub client: Arc<dyn Storage>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Replica {
    /// Opens `options` and serves it on 127.0.0.1:0.
    pub async fn start(options: &StorageOptions) -> Replica {
        let storage = open_storage(options).await.expect("open storage");
        Self::serve(storage).await
    }

    /// A replica on a new database of the shared Postgres server.
    pub async fn postgres(url: &str) -> Replica {
        Self::start(&StorageOptions::Postgres {
            connection_string: url.to_owned(),
        })
        .await
    }

    pub async fn serve(storage: Arc<dyn Storage>) -> Replica {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = storage.clone();
        let task = tokio::spawn(async move {
            portcullis_databroker::serve_storage(served, &secret(), listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        let client = Arc::new(client(addr));
        Replica {
            addr,
            storage,
            client,
            stop: Some(stop),
            task,
        }
    }

    /// Stops serving and waits until the listener is closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

/// A gRPC client of the replica at `addr`.
pub fn client(addr: SocketAddr) -> Client {
    portcullis_databroker::connect(&format!("http://{addr}"), &secret()).expect("client")
}

/// A put of struct data `{"n": n}` under `(kind, id)`.
pub fn put(kind: &str, id: &str, n: &str) -> RecordWrite {
    RecordWrite::put(kind, id, struct_data([("n", n)]))
}

/// Reads from `stream` until `done` says enough, failing after `timeout`.
pub async fn collect_until(
    stream: &mut RecordStream,
    timeout: Duration,
    mut done: impl FnMut(&[Record]) -> bool,
) -> Vec<Record> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while !done(&seen) {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("timed out after {timeout:?}; saw {} records", seen.len()));
        match next {
            Some(Ok(record)) => seen.push(record),
            Some(Err(error)) => panic!("stream failed: {error:?}"),
            None => panic!("stream ended after {} records", seen.len()),
        }
    }
    seen
}

/// Asserts versions strictly increase.
pub fn assert_strictly_increasing(records: &[Record]) {
    for pair in records.windows(2) {
        assert!(
            pair[0].version < pair[1].version,
            "out of order: {} then {}",
            pair[0].version,
            pair[1].version
        );
    }
}
