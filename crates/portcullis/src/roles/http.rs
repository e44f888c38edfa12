//! The public HTTP side: the proxy (with the authenticate host served in process when both
//! roles run here, else forwarded to the authenticate replicas) or, for
//! `services: authenticate` alone, the authenticate host on its own listener.

use std::sync::Arc;

use anyhow::Context as _;
use http::{Request, Response};
use hyper::body::Incoming;
use portcullis_authenticate::Authenticate;
use portcullis_config::Config;
use portcullis_databroker::Storage;
use portcullis_grpc::{AuthorizeClient, DnsOptions, PeerOptions, SharedSecret};
use portcullis_proto::Authorizer;
use portcullis_proxy::{HostService, Proxy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::{bind, stopped};

/// What the HTTP roles need from the rest of the process.
pub(super) struct HttpRoles<'a> {
    pub(super) config: &'a Config,
    /// `address`, already bound (else it is bound here).
    pub(super) listener: Option<TcpListener>,
    pub(super) secret: &'a SharedSecret,
    /// The databroker (in process, or a client of `databroker_service_url`).
    pub(super) databroker: Arc<dyn Storage>,
    /// The in-process authorize engine, when this process runs authorize.
    pub(super) engine: Option<Arc<portcullis_authorize::Engine>>,
    pub(super) stop: watch::Receiver<bool>,
    /// The process's readiness, reported at `/readyz`.
    pub(super) health: portcullis_telemetry::Health,
}

/// Starts the proxy and/or authenticate roles; returns them for configuration reloads.
pub(super) async fn start(
    roles: HttpRoles<'_>,
    tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
) -> anyhow::Result<(Option<Arc<Proxy>>, Option<Arc<Authenticate>>)> {
    let HttpRoles {
        config,
        listener,
        secret,
        databroker,
        engine,
        stop,
        health,
    } = roles;
    let s = config.services;
    let authenticate = if s.authenticate {
        let authenticate = Authenticate::new(config, Arc::clone(&databroker))
            .context("cannot start the authenticate role")?;
        let authenticate = Arc::new(authenticate);
        let refresh = Arc::clone(&authenticate);
        let shutdown = stopped(stop.clone());
        tasks.spawn(async move {
            refresh.run_refresh(shutdown).await;
            ("authenticate refresh", Ok(()))
        });
        Some(authenticate)
    } else {
        None
    };
    let mut running_proxy = None;
    if s.proxy {
        // The identity JWT's public keys: the in-process engine already holds the key.
        let jwks = match &engine {
            Some(engine) => serde_json::to_string(&engine.signing_key().jwks())?,
            None => jwks(config)?,
        };
        let authorizer: Arc<dyn Authorizer> = match engine {
            Some(engine) => engine,
            None => {
                let options = PeerOptions::from_config(config)?;
                Arc::new(
                    AuthorizeClient::connect_peers(
                        &config.authorize_service_urls,
                        secret,
                        &options,
                    )
                    .context("cannot reach the authorize role")?,
                )
            }
        };
        let mut proxy = Proxy::new(config, authorizer, databroker, jwks)
            .context("cannot start the proxy role")?;
        proxy = match &authenticate {
            Some(authenticate) => proxy.with_authenticate(router_service(authenticate.router())),
            // Split mode: the authenticate host goes on to the authenticate replicas.
            None => proxy.with_authenticate(
                portcullis_proxy::forward_authenticate(config, &DnsOptions::from_config(config))
                    .context("cannot forward the authenticate host")?,
            ),
        };
        proxy = proxy.with_health(health);
        let proxy = Arc::new(proxy);
        let listener = listen("proxy", listener, config).await?;
        let shutdown = stopped(stop.clone());
        let serving = Arc::clone(&proxy);
        tasks.spawn(async move {
            let result = serving.serve(listener, shutdown).await;
            ("proxy", result.map_err(anyhow::Error::from))
        });
        if let Some(address) = config.http_redirect_addr {
            let listener = bind("http_redirect", address).await?;
            let shutdown = stopped(stop.clone());
            tasks.spawn(async move {
                let result = portcullis_proxy::serve_http_redirect(listener, shutdown).await;
                ("http redirect", result.map_err(anyhow::Error::from))
            });
        }
        running_proxy = Some(proxy);
    } else if let Some(authenticate) = &authenticate {
        let tls = portcullis_proxy::server_tls(config).context("cannot load certificates")?;
        let listener = listen("authenticate", listener, config).await?;
        let service = router_service(authenticate.router().merge(crate::health::router(health)));
        let shutdown = stopped(stop.clone());
        tasks.spawn(async move {
            let result = portcullis_proxy::serve_service(listener, tls, service, shutdown).await;
            ("authenticate", result.map_err(anyhow::Error::from))
        });
    }
    Ok((running_proxy, authenticate))
}

/// The pre-bound listener, or `address` bound now.
async fn listen(
    service: &'static str,
    listener: Option<TcpListener>,
    config: &Config,
) -> anyhow::Result<TcpListener> {
    match listener {
        Some(listener) => {
            tracing::info!(service, address = %listener.local_addr()?, "listening");
            Ok(listener)
        }
        None => bind(service, config.address).await,
    }
}

/// An axum router (authenticate's, the dev IdP's) as a service the proxy's listeners serve.
pub(crate) fn router_service(router: axum::Router) -> HostService {
    use http_body_util::BodyExt as _;
    let service = ServiceExt::<Request<Incoming>>::map_response(
        router,
        |response: Response<axum::body::Body>| {
            response.map(|body| {
                body.map_err(|e| Box::new(e) as portcullis_proxy::BoxError)
                    .boxed_unsync()
            })
        },
    );
    HostService::new(service)
}

/// The identity JWT's public keys for a proxy without an in-process engine (split mode).
fn jwks(config: &Config) -> anyhow::Result<String> {
    let key = match &config.signing_key {
        Some(pem) => {
            portcullis_authorize::SigningKey::from_pem(pem.expose()).context("signing_key")?
        }
        None => portcullis_authorize::SigningKey::derive(config.shared_secret.expose()),
    };
    Ok(serde_json::to_string(&key.jwks())?)
}
