//! [`Proxy`]: the compiled snapshot, the authorizer, the databroker and the listener TLS;
//! [`Proxy::handle`] is the front of the pipeline for every request.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use portcullis_config::Config;
use portcullis_databroker::Storage;
use portcullis_proto::Authorizer;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::access_log::AccessLog;
use crate::headers::REQUEST_ID;
use crate::pipeline::Context;
use crate::rescue::{Failure, Format, MAX_HEAD};
use crate::server::tls::{ListenerTls, listener_tls};
use crate::server::{ClientInfo, ServeOptions, serve_with};
use crate::snapshot::Snapshot;
use crate::target::Target;
use crate::upstream::SharedClients;
use crate::{HostService, ProxyBody, ProxyError, pipeline, request_id};
use portcullis_telemetry::{Health, ReadyCheck};

/// The proxy role: routes, authorizes and forwards requests (design §3).
///
/// Build it with [`Proxy::new`], optionally attach the all-in-one authenticate service with
/// [`Proxy::with_authenticate`], then [`Proxy::serve`] it on a bound listener.
pub struct Proxy {
    pub(crate) snapshot: ArcSwap<Snapshot>,
    clients: SharedClients,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) databroker: Arc<dyn Storage>,
    pub(crate) jwks: Bytes,
    authenticate: Option<HostService>,
    tls: Option<ListenerTls>,
    /// Set when [`Proxy::serve`]'s shutdown begins: upgraded connections close.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    /// What `/readyz` and `/.portcullis/status` report (shared with the process's other
    /// listeners).
    pub(crate) health: Health,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("authorizer", &self.authorizer)
            .field("tls", &self.tls.is_some())
            .field("authenticate", &self.authenticate.is_some())
            .finish_non_exhaustive()
    }
}

// === impl Proxy ===

impl Proxy {
    /// Compiles `config`'s routes (host index, path rules, upstream pools and their TLS) and
    /// listener TLS. `authorizer` decides every request; `databroker` serves sign-out (the
    /// session delete) and the user page; `jwks_json` is served at
    /// `/.well-known/portcullis/jwks.json`. Call inside a tokio runtime.
    ///
    /// Fails on unusable certificates, upstream TLS settings or header values.
    pub fn new(
        config: &Config,
        authorizer: Arc<dyn Authorizer>,
        databroker: Arc<dyn Storage>,
        jwks_json: String,
    ) -> Result<Proxy, ProxyError> {
        let clients = SharedClients::new();
        let snapshot = Snapshot::new(config, &clients)?;
        Ok(Proxy {
            snapshot: ArcSwap::from_pointee(snapshot),
            clients,
            authorizer,
            databroker,
            jwks: Bytes::from(jwks_json),
            authenticate: None,
            tls: listener_tls(config)?,
            closing: tokio::sync::watch::Sender::new(false),
            health: Health::default(),
        })
    }

    /// Makes `/readyz` answer `503` while `check` says no (`name` says what is waiting, e.g.
    /// `databroker sync`). `/readyz` also fails once shutdown has begun.
    pub fn add_ready_check(&self, name: impl Into<String>, check: ReadyCheck) {
        self.health.add(name, check);
    }

    /// Reports `health` (the process's, shared with its other listeners) at `/readyz` and
    /// `/.portcullis/status`, instead of a readiness of the proxy's own.
    pub fn with_health(mut self, health: Health) -> Proxy {
        self.health = health;
        self
    }

    /// Sends requests whose host is `authenticate_service_url`'s to `service` (all-in-one
    /// mode, where authenticate shares the proxy's listener).
    pub fn with_authenticate(mut self, service: HostService) -> Proxy {
        self.authenticate = Some(service);
        self
    }

    /// Swaps in `config`'s routes, keys, header rules and certificates at once; in-flight
    /// requests finish on the old snapshot. On error nothing changes. (Switching between TLS
    /// and `insecure_server` needs a restart.)
    pub fn reload(&self, config: &Config) -> Result<(), ProxyError> {
        let snapshot = Snapshot::new(config, &self.clients)?;
        if let Some((_, resolver)) = &self.tls
            && !config.insecure_server
        {
            resolver.reload(config)?;
        }
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// The proxy as a service (what [`Proxy::serve`] runs on each connection).
    pub fn service(self: &Arc<Self>) -> HostService {
        let proxy = Arc::clone(self);
        HostService::new(tower::service_fn(move |request: Request<Incoming>| {
            let proxy = Arc::clone(&proxy);
            async move { Ok(proxy.handle(request).await) }
        }))
    }

    /// Serves on `listener` — TLS from `certificates` unless `insecure_server` — until
    /// `shutdown` resolves, then drains in-flight requests (for at most 30 s). Upgraded
    /// connections (WebSockets) are closed when shutdown begins.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ProxyError> {
        let tls = self.tls.as_ref().map(|(config, _)| Arc::clone(config));
        let options = ServeOptions {
            header_read_timeout: self.snapshot.load().read_timeout,
        };
        let service = self.service();
        let proxy = Arc::clone(&self);
        let shutdown = async move {
            shutdown.await;
            proxy.closing.send_replace(true);
        };
        serve_with(listener, tls, service, options, shutdown).await
    }

    /// Answers one request; never fails (failures are responses).
    pub(crate) async fn handle(
        self: &Arc<Self>,
        request: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let snapshot = self.snapshot.load_full();
        let info = request
            .extensions()
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_else(|| ClientInfo {
                remote: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                tls: false,
                server_name: None,
                client_certificate: None,
            });
        let mut context = Context {
            log: AccessLog {
                started: Instant::now(),
                request_id: request_id::of(request.headers()),
                method: request.method().to_string(),
                host: String::new(),
                path: request.uri().path().to_owned(),
                route: None,
                upstream: None,
                user: String::new(),
            },
            route: None,
            format: Format::of(request.headers()),
        };
        let mut response = match Target::of(&request) {
            _ if head_size(&request) > MAX_HEAD => {
                Failure::HeadTooLarge.respond(&context.log.request_id, context.format)
            }
            Err(error) => {
                tracing::debug!(%error, "unusable request target");
                Failure::BadRequest("the request's host or path is invalid")
                    .respond(&context.log.request_id, context.format)
            }
            Ok(target) => {
                context.log.host.clone_from(&target.authority);
                context.log.path.clone_from(&target.path);
                match &self.authenticate {
                    Some(service) if snapshot.is_authenticate_host(&target.host, target.port) => {
                        context.log.route = Some("authenticate".to_owned());
                        match service.clone().oneshot(request).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        }
                    }
                    _ => pipeline::run(self, &snapshot, request, target, &info, &mut context).await,
                }
            }
        };
        let route_headers = context.route.as_ref().map(|r| &r.set_response_headers);
        for (name, value) in &snapshot.response_headers {
            if !route_headers.is_some_and(|r| r.iter().any(|(n, _)| n == name)) {
                response.headers_mut().insert(name.clone(), value.clone());
            }
        }
        if let Ok(id) = HeaderValue::from_str(&context.log.request_id) {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        let bytes = http_body::Body::size_hint(response.body()).exact();
        let route_metrics = context.route.as_ref().map(|r| &r.metrics);
        context
            .log
            .write(response.status().as_u16(), bytes, route_metrics);
        response
    }
}

/// The size of a request's target and headers, as sent.
fn head_size<B>(request: &Request<B>) -> usize {
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len())
}
