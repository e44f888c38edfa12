//! Two real `portcullis` databroker processes on one PostgreSQL database.

#[path = "databroker/support.rs"]
mod support;

use std::time::{Duration, Instant};

use portcullis_databroker::Storage;
use portcullis_testing::postgres;
use portcullis_testing::process::Portcullis;
use support::{collect_until, put};

/// base64 of the 32 bytes of [`support::secret`] (`[42; 32]`).
const SECRET_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

fn config(connection_string: &str) -> String {
    format!(
        "services: databroker\n\
         grpc_address: 127.0.0.1:0\n\
         shared_secret: {SECRET_B64}\n\
         databroker_storage_type: postgres\n\
         databroker_storage_connection_string: {connection_string}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_through_process_a_arrives_on_sync_held_on_process_b_within_a_second() {
    let db = postgres::database().unwrap();
    let config = config(db.connection_string());
    let (mut a, mut b) = tokio::task::spawn_blocking(move || {
        (
            Portcullis::start(&config).unwrap(),
            Portcullis::start(&config).unwrap(),
        )
    })
    .await
    .unwrap();
    let client_a = support::client(a.address("databroker"));
    let client_b = support::client(b.address("databroker"));

    let info = client_b.server_info().await.unwrap();
    let mut changes = client_b
        .sync(info.server_version, info.latest_record_version, None)
        .await
        .unwrap();
    let started = Instant::now();
    let written = client_a.put(vec![put("session", "s1", "1")]).await.unwrap();
    let seen = collect_until(&mut changes, Duration::from_secs(1), |r| !r.is_empty()).await;
    assert_eq!(seen[0].version, written[0].version);
    assert!(started.elapsed() < Duration::from_secs(1));
    // SIGTERM drains and exits cleanly.
    let statuses =
        tokio::task::spawn_blocking(move || (a.terminate().unwrap(), b.terminate().unwrap()))
            .await
            .unwrap();
    assert!(statuses.0.success() && statuses.1.success(), "{statuses:?}");
}
