//! Pooled upstream clients (hyper-util's legacy client): one for plain HTTP/1.1, one for h2c
//! (HTTP/2 with prior knowledge), shared by every route; one per route with HTTPS upstreams,
//! carrying that route's TLS settings.

use std::time::Duration;

use http::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use portcullis_config::Route;

use super::connector::TlsConnector;
use super::counted::Counted;
use crate::ProxyBody;

/// How long establishing an upstream TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// The plain and h2c clients every route shares (they survive reloads).
#[derive(Debug, Clone)]
pub(crate) struct SharedClients {
    pub(crate) http: UpstreamClient,
    pub(crate) h2c: UpstreamClient,
}

/// A pooled client for one kind of upstream.
#[derive(Debug, Clone)]
pub(crate) enum UpstreamClient {
    /// `http://` and `h2c://` upstreams.
    Plain(Client<Counted<HttpConnector>, ProxyBody>),
    /// `https://` upstreams of one route.
    Tls(Client<Counted<TlsConnector>, ProxyBody>),
}

// === impl SharedClients ===

impl SharedClients {
    /// New, empty pools. Call inside a tokio runtime.
    pub(crate) fn new() -> SharedClients {
        let connector = Counted(http_connector(true));
        SharedClients {
            http: UpstreamClient::Plain(builder().build(connector.clone())),
            h2c: UpstreamClient::Plain(builder().http2_only(true).build(connector)),
        }
    }
}

// === impl UpstreamClient ===

impl UpstreamClient {
    /// Sends `request` (absolute URI) on a pooled connection.
    pub(crate) fn request(&self, request: Request<ProxyBody>) -> ResponseFuture {
        match self {
            UpstreamClient::Plain(c) => c.request(request),
            UpstreamClient::Tls(c) => c.request(request),
        }
    }
}

/// The HTTPS client of `route`: its custom CA or the system roots, its client certificate,
/// server name and `tls_skip_verify`.
pub(super) fn https(route: &Route) -> Result<UpstreamClient, String> {
    let config = super::tls::client_config(route)?;
    let server_name = match &route.tls_server_name {
        None => None,
        Some(name) => Some(
            rustls_pki_types::ServerName::try_from(name.clone())
                .map_err(|_| format!("tls_server_name {name:?} is not a DNS name or IP address"))?,
        ),
    };
    let connector = TlsConnector::new(http_connector(false), config, server_name);
    Ok(UpstreamClient::Tls(builder().build(Counted(connector))))
}

/// An HTTPS client trusting `config`'s roots and verifying `server_name` whatever address
/// a request's URI names (the authenticate forwarder connects to resolved addresses).
pub(crate) fn https_for(
    config: std::sync::Arc<rustls::ClientConfig>,
    server_name: rustls_pki_types::ServerName<'static>,
) -> UpstreamClient {
    let connector = TlsConnector::new(http_connector(false), config, Some(server_name));
    UpstreamClient::Tls(builder().build(Counted(connector)))
}

fn http_connector(enforce_http: bool) -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.enforce_http(enforce_http);
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_keepalive(Some(Duration::from_secs(60)));
    connector
}

fn builder() -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    builder
}
