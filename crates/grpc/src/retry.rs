//! Retrying idempotent calls on another endpoint.
//!
//! A unary call that is safe to repeat (`Check`, `Get`, `Query`, `SyncLatest`) and failed
//! because its endpoint went away — `UNAVAILABLE`, or a transport error raised on this side
//! before any answer — is tried once more after [`Failover::recheck`] has taken unreachable
//! endpoints out of the rotation.

use std::future::Future;

use tonic::{Code, Status};

use crate::Failover;

/// Attempts an idempotent call gets in all.
pub const IDEMPOTENT_ATTEMPTS: usize = 2;

/// Whether `status` says the call never reached a working endpoint: `UNAVAILABLE`, or an
/// `UNKNOWN`/`CANCELLED` status produced on this side from a transport error (a status sent
/// by a server carries no source error).
pub fn is_connection_failure(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown | Code::Cancelled => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// Runs `call` up to [`IDEMPOTENT_ATTEMPTS`] times while it fails with a connection
/// failure, asking `failover` to re-check the endpoints between attempts. Only for calls
/// that are safe to repeat.
pub async fn retry_idempotent<T, F, Fut>(failover: &Failover, mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(status) if is_connection_failure(&status) => {
                if attempt >= IDEMPOTENT_ATTEMPTS {
                    failover.report();
                    return Err(status);
                }
                tracing::debug!(code = ?status.code(), message = status.message(), attempt,
                    "call failed before an answer; retrying on another endpoint");
                failover.recheck().await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn classifies_statuses() {
        assert!(is_connection_failure(&Status::unavailable("down")));
        assert!(!is_connection_failure(&Status::unknown("from the server")));
        assert!(!is_connection_failure(&Status::permission_denied("no")));
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_connection_failure(&Status::from_error(Box::new(io))));
    }

    #[tokio::test]
    async fn retries_once_on_unavailable_only() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), Status> = retry_idempotent(&Failover::none(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Status::unavailable("down")) }
        })
        .await;
        assert_eq!(result.unwrap_err().code(), Code::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), IDEMPOTENT_ATTEMPTS);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), Status> = retry_idempotent(&Failover::none(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Status::not_found("gone")) }
        })
        .await;
        assert_eq!(result.unwrap_err().code(), Code::NotFound);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let result = retry_idempotent(&Failover::none(), || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(Status::unavailable("down"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2);
    }
}
