//! What can go wrong in the databroker, classified once for gRPC in
//! `service/status.rs`.

/// A boxed lower-level cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request itself is wrong (empty type, unsupported patch, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A record to patch does not exist.
    #[error("record {kind}/{id} not found")]
    NotFound {
        /// The record type.
        kind: String,
        /// The record id.
        id: String,
    },
    /// Another holder has the lease.
    #[error("lease {0:?} is held by another holder")]
    LeaseHeld(String),
    /// The lease is no longer held under the given id.
    #[error("lease {0:?} is not held under this id")]
    LeaseLost(String),
    /// The caller's replica cannot continue from where it is: the server
    /// version differs, or the change log no longer reaches back that far.
    /// Restart with a full sync.
    #[error("sync must restart: {0}")]
    Aborted(String),
    /// The backing store cannot be reached right now (Postgres down or
    /// restarting, remote databroker unreachable). Retrying later may work.
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug, a schema problem, a corrupt value.
    #[error("storage failed")]
    Internal(#[source] BoxError),
    /// A remote databroker answered with this status.
    #[error("remote databroker: {0}")]
    Remote(#[source] tonic::Status),
}

// === impl StorageError ===

impl StorageError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Remote(status) => matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Unknown
                    | tonic::Code::Internal
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::Cancelled
            ),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::Error as E;
        let transient = match &error {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
            E::Protocol(_) => true,
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
            // 08xxx connection exceptions, 40001/40P01 serialization/deadlock.
            E::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("57P") || c.starts_with("08") || c == "40001" || c == "40P01"
            }),
            _ => false,
        };
        if transient {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Internal(Box::new(error))
        }
    }
}
