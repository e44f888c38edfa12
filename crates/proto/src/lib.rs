//! Portcullis wire types: the code generated from `proto/` by tonic/prost, the record types
//! roles share through the databroker, and the authorize interface every role programs against.
//!
//! - One module per proto package, named after it ([`databroker`], [`session`], [`user`]).
//! - [`records`]: the domain [`Session`] and [`User`] records and their databroker type names.
//!   Conversions to and from their protobuf form live in one private module.
//! - [`authorize`]: [`AuthorizeRequest`], [`AuthorizeDecision`] and the [`Authorizer`] trait:
//!   the in-process engine and the gRPC client both implement it, so the proxy never knows
//!   which one it talks to.
//! - [`envoy`]: Envoy ext_authz v3 (`envoy.service.auth.v3.Authorization/Check`) messages ↔
//!   the authorize domain types, for the Check server and its client alike.

pub mod authorize;
mod convert;
pub mod envoy;
pub mod html;
pub mod records;

pub use authorize::{Allow, AuthorizeDecision, AuthorizeRequest, Authorizer, Deny};
pub use records::{OAuthToken, RecordDecodeError, SecretString, Session, User};

/// `portcullis.databroker.v1`: the databroker service and its records.
pub mod databroker {
    /// Version 1 of the databroker API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, missing_debug_implementations)]
        #![allow(clippy::large_enum_variant, clippy::needless_pass_by_value)]
        tonic::include_proto!("portcullis.databroker.v1");
    }
}

/// `portcullis.session.v1`: the session record (wire form; see [`records::Session`]).
pub mod session {
    /// Version 1 of the session record.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, missing_debug_implementations)]
        tonic::include_proto!("portcullis.session.v1");
    }
}

/// `portcullis.user.v1`: the user record (wire form; see [`records::User`]).
pub mod user {
    /// Version 1 of the user record.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, missing_debug_implementations)]
        tonic::include_proto!("portcullis.user.v1");
    }
}

pub use envoy_types;
pub use prost;
pub use prost_types;
