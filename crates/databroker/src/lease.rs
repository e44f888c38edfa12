//! Run work only while holding a lease, so exactly one replica of a role does
//! it (e.g. the session refresh manager).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::storage::sync::error_chain;
use crate::{Storage, StorageError};

/// Runs `work` whenever this caller holds the lease `name`, renewing it every
/// `ttl / 3`. If the lease is lost (renewal refused, or not confirmed within
/// `ttl`), the running `work` future is dropped and the caller competes for
/// the lease again. Returns when `work` completes (releasing the lease).
/// Cancel by dropping the returned future.
pub async fn run_with_lease<F, Fut>(
    storage: Arc<dyn Storage>,
    name: &str,
    ttl: Duration,
    mut work: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let id = match storage.acquire_lease(name, ttl).await {
            Ok(id) => id,
            Err(StorageError::LeaseHeld(_)) => {
                tokio::time::sleep(ttl / 2).await;
                continue;
            }
            Err(error) => {
                tracing::warn!(lease = name, error = %error_chain(&error), "acquiring lease failed");
                tokio::time::sleep(ttl / 2).await;
                continue;
            }
        };
        tracing::info!(lease = name, "lease acquired");
        let renew = async {
            let mut confirmed = Instant::now();
            loop {
                tokio::time::sleep(ttl / 3).await;
                match storage.renew_lease(name, &id, ttl).await {
                    Ok(()) => confirmed = Instant::now(),
                    Err(StorageError::LeaseLost(_)) => return,
                    Err(error) => {
                        tracing::warn!(lease = name, error = %error_chain(&error), "renewing lease failed");
                        // Someone else may hold it once our ttl has passed.
                        if confirmed.elapsed() + ttl / 3 >= ttl {
                            return;
                        }
                    }
                }
            }
        };
        tokio::select! {
            () = work() => {
                if let Err(error) = storage.release_lease(name, &id).await {
                    tracing::warn!(lease = name, error = %error_chain(&error), "releasing lease failed");
                }
                return;
            }
            () = renew => tracing::warn!(lease = name, "lease lost; stopping work"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::Memory;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn only_one_runner_and_lease_moves_when_holder_stops() {
        let storage: Arc<dyn Storage> = Arc::new(Memory::new());
        let running = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let runner = |tag: usize| {
            let (storage, running, max) = (storage.clone(), running.clone(), max.clone());
            tokio::spawn(async move {
                run_with_lease(storage, "job", Duration::from_millis(300), || {
                    let (running, max) = (running.clone(), max.clone());
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        // Runs until the task is aborted.
                        let _guard = Decrement(running);
                        std::future::pending::<()>().await;
                    }
                })
                .await;
                tag
            })
        };
        let a = runner(1);
        let b = runner(2);
        let deadline = Instant::now() + Duration::from_secs(5);
        while running.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "nobody acquired the lease");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Whoever holds it: stop it without releasing; the other takes over.
        a.abort();
        let _ = a.await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while running.load(Ordering::SeqCst) == 0
            || storage
                .acquire_lease("job", Duration::from_secs(1))
                .await
                .is_ok()
        {
            assert!(Instant::now() < deadline, "the lease did not move");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(max.load(Ordering::SeqCst), 1, "two runners at once");
        b.abort();
    }

    struct Decrement(Arc<AtomicUsize>);
    impl Drop for Decrement {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
