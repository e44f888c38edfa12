//! Wire ↔ domain conversions, in one place.

use std::time::{Duration, SystemTime};

use portcullis_proto::databroker::v1 as pb;
use prost_types::{Any, Timestamp};

use crate::StorageError;
use crate::record::{Data, Filter, Query, Record, RecordWrite, TypeOptions, Versions};

pub(crate) fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

pub(crate) fn system_time(t: &Timestamp) -> SystemTime {
    let secs = Duration::from_secs(t.seconds.max(0) as u64);
    SystemTime::UNIX_EPOCH + secs + Duration::from_nanos(t.nanos.max(0) as u64)
}

pub(crate) fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

pub(crate) fn std_duration(d: &prost_types::Duration) -> Result<Duration, StorageError> {
    if d.seconds < 0 || d.nanos < 0 {
        return Err(StorageError::InvalidArgument("negative duration".into()));
    }
    Ok(Duration::from_secs(d.seconds as u64) + Duration::from_nanos(d.nanos as u64))
}

pub(crate) fn record_to_pb(r: Record) -> pb::Record {
    pb::Record {
        r#type: r.kind,
        id: r.id,
        version: r.version,
        data: Some(Any {
            type_url: r.data.type_url,
            value: r.data.value,
        }),
        modified_at: Some(timestamp(r.modified_at)),
        deleted_at: r.deleted_at.map(timestamp),
    }
}

/// A record received from a databroker (versions and times as sent).
pub(crate) fn record_from_pb(r: pb::Record) -> Record {
    let data = r.data.unwrap_or_default();
    Record {
        kind: r.r#type,
        id: r.id,
        version: r.version,
        data: Data {
            type_url: data.type_url,
            value: data.value,
        },
        modified_at: r
            .modified_at
            .as_ref()
            .map_or(SystemTime::UNIX_EPOCH, system_time),
        deleted_at: r.deleted_at.as_ref().map(system_time),
    }
}

/// A record a client asks to write: `deleted_at` set means delete.
pub(crate) fn write_from_pb(r: pb::Record) -> RecordWrite {
    let data = r.data.unwrap_or_default();
    RecordWrite {
        kind: r.r#type,
        id: r.id,
        data: Data {
            type_url: data.type_url,
            value: data.value,
        },
        delete: r.deleted_at.is_some(),
    }
}

pub(crate) fn write_to_pb(w: RecordWrite) -> pb::Record {
    pb::Record {
        r#type: w.kind,
        id: w.id,
        version: 0,
        data: Some(Any {
            type_url: w.data.type_url,
            value: w.data.value,
        }),
        modified_at: None,
        deleted_at: w.delete.then(|| timestamp(SystemTime::now())),
    }
}

pub(crate) fn versions_to_pb(v: Versions) -> pb::Versions {
    pb::Versions {
        server_version: v.server_version,
        latest_record_version: v.latest_record_version,
    }
}

pub(crate) fn versions_from_pb(v: pb::Versions) -> Versions {
    Versions {
        server_version: v.server_version,
        latest_record_version: v.latest_record_version,
    }
}

pub(crate) fn options_to_pb(o: TypeOptions) -> pb::Options {
    pb::Options {
        ttl: o.ttl.map(duration),
        capacity: o.capacity,
    }
}

pub(crate) fn options_from_pb(o: Option<pb::Options>) -> Result<TypeOptions, StorageError> {
    let o = o.unwrap_or_default();
    Ok(TypeOptions {
        ttl: o.ttl.as_ref().map(std_duration).transpose()?,
        capacity: o.capacity,
    })
}

pub(crate) fn query_from_pb(q: pb::QueryRequest) -> Query {
    Query {
        kind: q.r#type,
        filters: q
            .filters
            .into_iter()
            .map(|f| Filter {
                field: f.field,
                value: f.value,
            })
            .collect(),
        offset: q.offset,
        limit: (q.limit > 0).then_some(q.limit),
    }
}

pub(crate) fn query_to_pb(q: Query) -> pb::QueryRequest {
    pb::QueryRequest {
        r#type: q.kind,
        filters: q
            .filters
            .into_iter()
            .map(|f| pb::QueryFilter {
                field: f.field,
                value: f.value,
            })
            .collect(),
        offset: q.offset,
        limit: q.limit.unwrap_or(0),
    }
}

/// `None` for the empty string (the proto's "every type").
pub(crate) fn kind_filter(kind: &str) -> Option<&str> {
    (!kind.is_empty()).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let r = Record {
            kind: "k".into(),
            id: "i".into(),
            version: 7,
            data: Data {
                type_url: "t".into(),
                value: vec![1, 2],
            },
            modified_at: SystemTime::UNIX_EPOCH + Duration::from_micros(1_234_567),
            deleted_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2)),
        };
        assert_eq!(record_from_pb(record_to_pb(r.clone())), r);
        let w = write_from_pb(record_to_pb(r));
        assert!(w.delete);
    }
}
