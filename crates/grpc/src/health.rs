//! `grpc.health.v1.Health` on every gRPC listener, and the drain notice it carries.
//!
//! The status is one for the whole listener (every service name gets the same answer):
//! `SERVING` while the listener runs, `NOT_SERVING` from the moment shutdown begins. Clients
//! of [`crate::connect_balanced`] hold a `Watch` stream on every endpoint in rotation, so
//! a replica that starts draining leaves their rotation at once, while its listener still
//! accepts and its calls in flight finish. [`Health::drain`] waits (briefly) for those
//! watchers to let go before the listener closes.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{self, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// How often [`Health::follow`] asks its readiness check.
const READY_POLL: Duration = Duration::from_millis(100);
/// How often [`Health::drain`] looks at the number of watchers.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// What the listener reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Serving,
    NotServing,
    /// Shutdown is past the notice: `Watch` streams end (graceful shutdown waits for them).
    Closed,
}

/// The health of one gRPC listener. Cheap to clone; clones share the state.
#[derive(Debug, Clone)]
pub struct Health {
    state: Arc<watch::Sender<State>>,
}

impl Default for Health {
    /// `SERVING`.
    fn default() -> Self {
        Health {
            state: Arc::new(watch::Sender::new(State::Serving)),
        }
    }
}

// === impl Health ===

impl Health {
    /// The `grpc.health.v1.Health` service reporting this state.
    pub fn service(&self) -> HealthServer<Health> {
        HealthServer::new(self.clone())
    }

    /// Whether the listener reports `SERVING`.
    pub fn is_serving(&self) -> bool {
        *self.state.borrow() == State::Serving
    }

    /// Reports `NOT_SERVING` while `ready` says no and `SERVING` when it says yes (asked now
    /// and every [`READY_POLL`]) — e.g. until the process's first databroker sync — until
    /// [`Health::drain`] closes the listener. `ready` must say no once draining begins (the
    /// process's readiness does), so it never undoes the drain notice. Call inside a tokio
    /// runtime; the poller ends when the health state is dropped or closed.
    pub fn follow(&self, ready: portcullis_telemetry::ReadyCheck) {
        let apply = |state: &watch::Sender<State>, ready: bool| {
            let mut closed = false;
            state.send_if_modified(|s| {
                let want = if ready {
                    State::Serving
                } else {
                    State::NotServing
                };
                closed = *s == State::Closed;
                let changed = !closed && *s != want;
                if changed {
                    *s = want;
                }
                changed
            });
            closed
        };
        apply(&self.state, ready());
        let state = Arc::downgrade(&self.state);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(READY_POLL).await;
                let Some(state) = state.upgrade() else { return };
                if apply(&state, ready()) {
                    return;
                }
            }
        });
    }

    /// Reports `NOT_SERVING` to every `Check` and `Watch` from now on, then waits until no
    /// client watches any more (each has taken this listener out of its rotation) or
    /// `limit` has passed; open `Watch` streams then end.
    pub async fn drain(&self, limit: Duration) {
        self.state.send_replace(State::NotServing);
        let deadline = tokio::time::Instant::now() + limit;
        while self.state.receiver_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        let left = self.state.receiver_count();
        if left > 0 {
            tracing::debug!(
                watchers = left,
                "health watchers still open after the notice"
            );
        }
        self.state.send_replace(State::Closed);
    }
}

fn response(state: State) -> HealthCheckResponse {
    let status = match state {
        State::Serving => ServingStatus::Serving,
        State::NotServing | State::Closed => ServingStatus::NotServing,
    };
    HealthCheckResponse {
        status: status.into(),
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl health_server::Health for Health {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(response(*self.state.borrow())))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let states = tokio_stream::wrappers::WatchStream::new(self.state.subscribe());
        let stream = states
            .take_while(|state| *state != State::Closed)
            .map(|state| Ok(response(state)));
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use tonic_health::pb::health_server::Health as _;

    use super::*;

    fn request() -> Request<HealthCheckRequest> {
        Request::new(HealthCheckRequest {
            service: String::new(),
        })
    }

    #[tokio::test]
    async fn watchers_see_the_notice_and_drain_waits_for_them() {
        let health = Health::default();
        let check = health.check(request()).await.unwrap().into_inner();
        assert_eq!(check.status(), ServingStatus::Serving);
        let mut watch = health.watch(request()).await.unwrap().into_inner();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.status(), ServingStatus::Serving);

        let draining = health.clone();
        let drain = tokio::spawn(async move { draining.drain(Duration::from_secs(30)).await });
        let notice = watch.next().await.unwrap().unwrap();
        assert_eq!(notice.status(), ServingStatus::NotServing);
        let check = health.check(request()).await.unwrap().into_inner();
        assert_eq!(check.status(), ServingStatus::NotServing);
        assert!(!drain.is_finished(), "drain waits while a client watches");
        drop(watch);
        tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .expect("drain ends once nobody watches")
            .unwrap();
    }

    #[tokio::test]
    async fn drain_ends_streams_after_the_limit() {
        let health = Health::default();
        let mut watch = health.watch(request()).await.unwrap().into_inner();
        health.drain(Duration::from_millis(50)).await;
        let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(5), async {
            let mut rest = Vec::new();
            while let Some(item) = watch.next().await {
                rest.push(item.unwrap().status());
            }
            rest
        })
        .await
        .expect("the stream ends once the notice is over");
        assert!(!rest.contains(&ServingStatus::Serving), "{rest:?}");
    }
}
