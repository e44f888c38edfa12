//! Portcullis wire types: the code generated from `proto/` by tonic/prost.
//!
//! One module per proto package, named after it. Wire types stay at the edge:
//! each role converts them to its own domain types in one module.

/// `portcullis.databroker.v1`: the databroker service and its records.
pub mod databroker {
    /// Version 1 of the databroker API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, missing_debug_implementations)]
        #![allow(clippy::large_enum_variant, clippy::needless_pass_by_value)]
        tonic::include_proto!("portcullis.databroker.v1");
    }
}

pub use prost;
pub use prost_types;
