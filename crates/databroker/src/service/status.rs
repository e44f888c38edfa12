//! The one place that turns storage errors into gRPC statuses: the client gets
//! a short, safe message, the log gets the full chain.

use tonic::Status;

use crate::StorageError;
use crate::storage::sync::error_chain;

pub(crate) fn to_status(error: StorageError) -> Status {
    match error {
        StorageError::InvalidArgument(msg) => Status::invalid_argument(msg),
        e @ StorageError::NotFound { .. } => Status::not_found(e.to_string()),
        e @ StorageError::LeaseHeld(_) => Status::already_exists(e.to_string()),
        e @ StorageError::LeaseLost(_) => Status::failed_precondition(e.to_string()),
        StorageError::Aborted(msg) => Status::aborted(msg),
        e @ StorageError::Unavailable(_) => {
            tracing::warn!(error = %error_chain(&e), "databroker storage unavailable");
            Status::unavailable("storage unavailable")
        }
        e @ StorageError::Internal(_) => {
            tracing::error!(error = %error_chain(&e), "databroker storage failed");
            Status::internal("internal error")
        }
        StorageError::Remote(status) => status,
    }
}

/// The inverse, for the client: statuses that carry a meaning become the
/// matching error, everything else stays `Remote`.
pub(crate) fn from_status(status: Status) -> StorageError {
    match status.code() {
        tonic::Code::Aborted => StorageError::Aborted(status.message().to_owned()),
        tonic::Code::InvalidArgument => StorageError::InvalidArgument(status.message().to_owned()),
        _ => StorageError::Remote(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn internal_details_stay_in_the_log() {
        let status = to_status(StorageError::Internal("password=hunter2".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
        let status = to_status(StorageError::Unavailable("conn refused at 10.0.0.1".into()));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("10.0.0.1"));
    }

    #[test]
    fn meanings_map_both_ways() {
        let status = to_status(StorageError::Aborted("server version changed".into()));
        assert_eq!(status.code(), Code::Aborted);
        assert!(matches!(from_status(status), StorageError::Aborted(_)));
        assert_eq!(
            to_status(StorageError::LeaseHeld("x".into())).code(),
            Code::AlreadyExists
        );
        assert_eq!(
            to_status(StorageError::LeaseLost("x".into())).code(),
            Code::FailedPrecondition
        );
    }
}
