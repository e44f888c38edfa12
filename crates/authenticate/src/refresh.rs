//! The refresh manager (design §4): one active instance cluster-wide, elected with the
//! databroker lease [`REFRESH_LEASE`].
//!
//! While it holds the lease it watches every session record and keeps a schedule: each
//! session with a refresh token is refreshed (refresh-token grant) a margin before its
//! access token expires — a minute, or half the token's lifetime if that is shorter — and
//! the session and user records are rewritten with the new tokens and claims. A refresh the
//! IdP refuses for good (`invalid_grant`: revoked, expired or reused refresh token) deletes
//! the session; network and IdP failures retry with backoff. Sessions past their
//! `expires_at` are deleted.
//!
//! A session is refreshed by one task at a time: the lease makes one manager active, and
//! the manager never starts a refresh for a session whose previous one is still running.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portcullis_databroker::lease::run_with_lease;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Authenticate;
use crate::records::decode_session;

mod job;
mod schedule;
mod watch_sessions;

use job::Outcome;
use schedule::{Schedule, due};
use watch_sessions::{Event, SessionWatch};

/// The databroker lease that elects the active refresh manager.
pub const REFRESH_LEASE: &str = "portcullis.authenticate.refresh";
/// The lease's time to live: a crashed manager is replaced after about this long.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// At most this many refreshes run at once.
const CONCURRENCY: usize = 8;
/// How long a stopping manager waits to release its lease.
const RELEASE_GRACE: Duration = Duration::from_secs(5);

pub(crate) async fn run(auth: Arc<Authenticate>, shutdown: impl Future<Output = ()> + Send) {
    let (stop, stopped) = watch::channel(false);
    let storage = Arc::clone(&auth.storage);
    let lease = run_with_lease(storage, REFRESH_LEASE, LEASE_TTL, || {
        manage(Arc::clone(&auth), stopped.clone())
    });
    tokio::pin!(lease);
    tokio::select! {
        () = &mut lease => return,
        () = shutdown => {}
    }
    // The active manager returns, so its lease is released for the next replica at once.
    stop.send_replace(true);
    let _ = tokio::time::timeout(RELEASE_GRACE, lease).await;
}

/// The active manager, until `stopped`.
async fn manage(auth: Arc<Authenticate>, mut stopped: watch::Receiver<bool>) {
    tracing::info!("refresh manager active");
    let mut watch = SessionWatch::new(Arc::clone(&auth.storage));
    let mut schedule = Schedule::default();
    let mut running = HashSet::new();
    let mut attempts: HashMap<String, u32> = HashMap::new();
    let mut jobs: JoinSet<(String, Outcome)> = JoinSet::new();
    loop {
        let wake = schedule.next().map(until);
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            event = watch.next() => match event {
                Event::Reset => schedule.clear(),
                Event::Put(record) => match decode_session(&record) {
                    Some(session) => {
                        attempts.remove(&session.id);
                        schedule.set(&session.id, due(&session));
                    }
                    None => schedule.remove(&record.id),
                },
                Event::Deleted(id) => {
                    attempts.remove(&id);
                    schedule.remove(&id);
                }
            },
            () = sleep(wake), if wake.is_some() => {
                let now = SystemTime::now();
                for id in schedule.take_due(now) {
                    if running.contains(&id) || running.len() >= CONCURRENCY {
                        // Never two refreshes of one session; and not too many at once.
                        schedule.set(&id, now + Duration::from_millis(500));
                        continue;
                    }
                    running.insert(id.clone());
                    let auth = Arc::clone(&auth);
                    jobs.spawn(async move {
                        let outcome = job::refresh(&auth, &id).await;
                        (id, outcome)
                    });
                }
            },
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                let Ok((id, outcome)) = done else { continue };
                running.remove(&id);
                match outcome {
                    Outcome::Done => {}
                    Outcome::At(at) => schedule.set(&id, at),
                    Outcome::Retry => {
                        let n = attempts.entry(id.clone()).or_default();
                        *n += 1;
                        schedule.set(&id, SystemTime::now() + job::retry_delay(*n));
                    }
                }
            },
        }
    }
}

/// How long from now until `at` (zero when past).
fn until(at: SystemTime) -> Duration {
    at.duration_since(SystemTime::now()).unwrap_or_default()
}

async fn sleep(wake: Option<Duration>) {
    if let Some(d) = wake {
        tokio::time::sleep(d).await;
    }
}
