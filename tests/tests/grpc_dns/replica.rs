//! A tiny authorize replica for the DNS tests: Envoy's `Check` behind real service auth,
//! served by `portcullis_grpc::serve` in a runtime of its own so that [`Replica::kill`] can
//! end it the way a killed process ends (every socket closed at once, no GOAWAY).
//!
//! Every `Check` is counted per replica; a request path `/slow/<ms>` answers after `<ms>`.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use portcullis_grpc::{ServerAuth, SharedSecret};
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

pub fn secret() -> SharedSecret {
    SharedSecret::from([42; 32])
}

/// A serving replica.
#[derive(Debug)]
pub struct Replica {
    addr: SocketAddr,
    counts: Arc<Counts>,
    runtime: Option<tokio::runtime::Runtime>,
    /// Begins graceful shutdown.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Set when the server has returned.
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, Default)]
struct Counts {
    started: AtomicUsize,
    finished: AtomicUsize,
}

#[derive(Debug)]
struct Service {
    counts: Arc<Counts>,
}

#[tonic::async_trait]
impl Authorization for Service {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        self.counts.started.fetch_add(1, Ordering::SeqCst);
        let path = request
            .get_ref()
            .attributes
            .as_ref()
            .and_then(|a| a.request.as_ref())
            .and_then(|r| r.http.as_ref())
            .map(|h| h.path.clone())
            .unwrap_or_default();
        if let Some(ms) = path.strip_prefix("/slow/").and_then(|ms| ms.parse().ok()) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self.counts.finished.fetch_add(1, Ordering::SeqCst);
        // No status and no HTTP response: an allow.
        Ok(Response::new(CheckResponse::default()))
    }
}

impl Replica {
    /// Serves `Check` on `listener` (already bound) until killed or dropped.
    pub fn start(listener: std::net::TcpListener) -> Replica {
        Replica::start_with(listener, None)
    }

    /// [`Replica::start`], speaking TLS with `tls` when given.
    pub fn start_with(
        listener: std::net::TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Replica {
        let addr = listener.local_addr().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let counts = Arc::new(Counts::default());
        let service = Service {
            counts: Arc::clone(&counts),
        };
        listener.set_nonblocking(true).unwrap();
        let listener = {
            let _inside = runtime.enter();
            tokio::net::TcpListener::from_std(listener).unwrap()
        };
        let routes = Routes::new(InterceptedService::new(
            AuthorizationServer::new(service),
            ServerAuth::new(&secret()),
        ));
        let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::clone(&stopped);
        runtime.spawn(async move {
            let shutdown = async move {
                let _ = stopping.await;
            };
            if let Err(error) = portcullis_grpc::serve_with(routes, listener, tls, shutdown).await {
                eprintln!("replica {addr} failed: {error}");
            }
            done.store(true, Ordering::SeqCst);
        });
        Replica {
            addr,
            counts,
            runtime: Some(runtime),
            stop: Some(stop),
            stopped,
        }
    }

    /// Begins graceful shutdown, as SIGTERM does: health turns `NOT_SERVING`, then the
    /// listener closes and calls in flight finish.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether the server has finished shutting down.
    pub fn has_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `Check`s this replica has started answering.
    pub fn served(&self) -> usize {
        self.counts.started.load(Ordering::SeqCst)
    }

    /// `Check`s this replica has finished answering.
    pub fn finished(&self) -> usize {
        self.counts.finished.load(Ordering::SeqCst)
    }

    /// Ends the replica at once: listener and connections closed, calls in flight cut.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}
