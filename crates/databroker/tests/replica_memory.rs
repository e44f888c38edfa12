//! Bytes held per record by the in-process memory storage and by a `SyncClient` replica,
//! counted by an instrumented global allocator, so the per-record overhead cannot grow
//! unnoticed (issue #9: 100,000 sessions in an all-in-one process within 150 MB).
//! (One test in this binary on a current-thread runtime, so nothing else allocates meanwhile.)

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use portcullis_databroker::storage::memory::Memory;
use portcullis_databroker::{Data, RecordWrite, Storage, SyncClient};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const RECORDS: usize = 1_000;
/// The payload of each record, about a session with its ID token.
const PAYLOAD: usize = 1_000;

/// Bytes allocated and not freed since `region` started.
fn held(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated
}

fn writes(first: usize) -> Vec<RecordWrite> {
    (first..first + RECORDS)
        .map(|n| {
            let data = Data {
                type_url: "type.googleapis.com/portcullis.session.v1.Session".to_owned(),
                value: vec![(n % 251) as u8; PAYLOAD],
            };
            RecordWrite::put("session", format!("session-{n:012}"), data)
        })
        .collect()
}

#[tokio::test]
async fn storage_and_replica_hold_one_payload_and_little_else() {
    let storage = Memory::new();
    // Warm up: the first records of a type allocate the maps and the interned type URL.
    storage.put(writes(0)).await.unwrap();

    let payloads = (RECORDS * PAYLOAD) as isize;
    let region = Region::new(GLOBAL);
    storage.put(writes(RECORDS)).await.unwrap();
    let stored = held(&region);
    // The live record and its change-log entry share one allocation.
    let per_record = (stored - payloads) / RECORDS as isize;
    assert!(
        (0..600).contains(&per_record),
        "memory storage: {per_record} bytes per record beyond the payload ({stored} held)"
    );

    let region = Region::new(GLOBAL);
    let replica = SyncClient::new(Arc::new(storage.clone()) as Arc<dyn Storage>);
    tokio::time::timeout(Duration::from_secs(10), replica.ready())
        .await
        .expect("the replica loads its snapshot");
    assert_eq!(replica.len("session"), 2 * RECORDS);
    let replicated = held(&region);
    // The replica holds each payload once, plus its id and a map slot.
    let per_record = (replicated - 2 * payloads) / (2 * RECORDS) as isize;
    assert!(
        (0..250).contains(&per_record),
        "replica: {per_record} bytes per record beyond the payload ({replicated} held)"
    );
    eprintln!(
        "storage: {} B/record beyond the payload; replica: {per_record} B/record",
        (stored - payloads) / RECORDS as isize
    );
}
