//! Split mode: the authenticate host behind the proxy (design §1), so one L4 balancer in
//! front of the proxies serves everything.
//!
//! Requests whose host is `authenticate_service_url`'s go — not authorized (the sign-in
//! pages are public), every path, bodies streamed both ways, `Host` kept, `X-Forwarded-*`
//! set — to the authenticate replicas at `authenticate_internal_service_url`: every address
//! its host resolves to (re-resolved every `dns_refresh_rate`), in round robin; an address
//! whose connect failed is passed over for a while, and a request whose connection failed
//! before anything was sent is tried on the next address.
//!
//! Loops: a forwarded request carries [`HOP`]; one that arrives with it already set (the
//! target URL led back to a proxy) is answered `508 Loop Detected`, never forwarded again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use portcullis_config::Config;
use portcullis_grpc::DnsOptions;
use portcullis_grpc::resolve::{Addresses, watch_addresses};
use url::Url;

use crate::body::{Reclaimable, Timed};
use crate::headers::{self, Forwarded, REQUEST_ID};
use crate::rescue::{Failure, Format};
use crate::server::ClientInfo;
use crate::upstream::{SharedClients, UpstreamClient, tls};
use crate::{BoxError, HostService, ProxyBody, ProxyError, body, request_id};

/// Marks a request a proxy forwarded to authenticate.
pub const HOP: HeaderName = HeaderName::from_static("x-portcullis-authenticate-hop");
/// How long an address whose connect failed is passed over (unless all are).
const DOWN_FOR: Duration = Duration::from_secs(5);
/// How long the first request waits for the first DNS answer.
const FIRST_ANSWER: Duration = Duration::from_secs(3);

/// The forwarder: where authenticate runs and how to reach it.
#[derive(Debug)]
struct Forwarder {
    /// The URL forwarded to (for logs).
    label: String,
    /// `authenticate_service_url` is `https://` (the client's scheme behind a TLS terminator).
    public_https: bool,
    scheme: http::uri::Scheme,
    /// The host and port resolved, and how.
    host: String,
    port: u16,
    dns: DnsOptions,
    /// Resolved from the first request on (a proxy never asked resolves nothing).
    addresses: OnceLock<Result<Addresses, String>>,
    client: UpstreamClient,
    /// How long authenticate may take to answer (`default_upstream_timeout`).
    timeout: Duration,
    next: AtomicUsize,
    down: Mutex<HashMap<SocketAddr, Instant>>,
}

/// The service that forwards the authenticate host to `authenticate_internal_service_url`
/// (or, when that is unset, `authenticate_service_url`), for a proxy without the
/// authenticate role. Must be called inside a tokio runtime.
///
/// Fails when neither URL is set, or its TLS settings are unusable.
pub fn forward_authenticate(config: &Config, dns: &DnsOptions) -> Result<HostService, ProxyError> {
    let url = match (
        &config.authenticate_internal_service_url,
        &config.authenticate_service_url,
    ) {
        (Some(internal), _) => internal,
        (None, Some(public)) => {
            tracing::warn!(
                url = %public,
                "authenticate_internal_service_url is unset: forwarding the authenticate host \
                 to authenticate_service_url; requests that come back to a proxy are refused (508)"
            );
            public
        }
        (None, None) => return Err(ProxyError::NoAuthenticateUrl),
    };
    let forwarder = Forwarder::new(url, config, dns)?;
    let forwarder = Arc::new(forwarder);
    Ok(HostService::new(tower::service_fn(
        move |request: Request<Incoming>| {
            let forwarder = Arc::clone(&forwarder);
            async move { Ok(forwarder.handle(request).await) }
        },
    )))
}

// === impl Forwarder ===

impl Forwarder {
    fn new(url: &Url, config: &Config, dns: &DnsOptions) -> Result<Forwarder, ProxyError> {
        let bad = |reason: String| ProxyError::UpstreamTls {
            route: "authenticate".into(),
            reason: format!("{url}: {reason}"),
        };
        let host = url.host_str().ok_or_else(|| bad("no host".into()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| bad("no port".into()))?;
        let (scheme, client) = if url.scheme() == "https" {
            let name = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let server_name = rustls_pki_types::ServerName::try_from(name)
                .map_err(|_| bad("the host is not a valid TLS server name".into()))?;
            let config =
                tls::peer_client_config(config.certificate_authority.as_deref()).map_err(bad)?;
            let client = crate::upstream::https_for(config, server_name);
            (http::uri::Scheme::HTTPS, client)
        } else {
            (http::uri::Scheme::HTTP, SharedClients::new().http)
        };
        Ok(Forwarder {
            label: url.to_string(),
            public_https: config
                .authenticate_service_url
                .as_ref()
                .is_some_and(|u| u.scheme() == "https"),
            scheme,
            host: host.to_owned(),
            port,
            dns: dns.clone(),
            addresses: OnceLock::new(),
            client,
            timeout: config.timeouts.default_upstream,
            next: AtomicUsize::new(0),
            down: Mutex::new(HashMap::new()),
        })
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let request_id = request_id::of(request.headers());
        let format = Format::of(request.headers());
        if request.headers().contains_key(&HOP) {
            tracing::warn!(request_id, url = %self.label, "the authenticate host came back to a proxy; refusing the loop");
            let mut response = Response::new(body::full(
                "508 Loop Detected: the authenticate service URL leads back to a proxy; set authenticate_internal_service_url\n",
            ));
            *response.status_mut() = StatusCode::LOOP_DETECTED;
            return response;
        }
        match self.forward(request, &request_id).await {
            Ok(response) => response,
            Err(failure) => failure.respond(&request_id, format),
        }
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        request_id: &str,
    ) -> Result<Response<ProxyBody>, Failure> {
        let info = request.extensions().get::<ClientInfo>().cloned();
        let (parts, incoming) = request.into_parts();
        let authority = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or_default()
            .to_owned();
        let mut head = parts.headers;
        headers::remove_hop_by_hop(&mut head, false);
        if let Some(info) = &info {
            headers::set_forwarded(
                &mut head,
                &Forwarded {
                    client: info.remote.ip(),
                    proto: if info.tls || self.public_https {
                        "https"
                    } else {
                        "http"
                    },
                    host: &authority,
                },
            );
        }
        head.insert(HOP, HeaderValue::from_static("1"));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            head.insert(REQUEST_ID, id);
        }
        if let Ok(host) = HeaderValue::from_str(&authority) {
            head.insert(header::HOST, host);
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let deadline = tokio::time::Instant::now() + self.timeout;
        let body = Reclaimable::new(incoming.map_err(BoxError::from).boxed_unsync());
        let mut last_error: Option<BoxError> = None;
        for addr in self.order().await? {
            let Some(attempt) = body.attempt() else { break };
            let uri = Uri::builder()
                .scheme(self.scheme.clone())
                .authority(addr.to_string())
                .path_and_query(path)
                .build()
                .map_err(|e| Failure::Internal(format!("authenticate URI: {e}")))?;
            let mut outgoing = Request::new(attempt);
            *outgoing.method_mut() = parts.method.clone();
            *outgoing.uri_mut() = uri;
            *outgoing.headers_mut() = head.clone();
            let sent = tokio::time::timeout_at(deadline, self.client.request(outgoing)).await;
            match sent {
                Err(_) => return Err(Failure::UpstreamTimeout),
                Ok(Ok(response)) => {
                    self.mark(addr, true);
                    let (mut parts, body) = response.into_parts();
                    headers::remove_hop_by_hop(&mut parts.headers, false);
                    let body = Timed::new(body, None, None).boxed_unsync();
                    return Ok(Response::from_parts(parts, body));
                }
                Ok(Err(error)) if error.is_connect() => {
                    tracing::warn!(
                        request_id,
                        url = %self.label,
                        %addr,
                        error = %crate::rescue::ErrorChain(&error),
                        "authenticate replica connect failed"
                    );
                    self.mark(addr, false);
                    last_error = Some(error.into());
                }
                Ok(Err(error)) => return Err(Failure::Upstream(error.into())),
            }
        }
        Err(Failure::UpstreamConnect(last_error.unwrap_or_else(|| {
            format!("{} has not resolved to any address yet", self.label).into()
        })))
    }

    /// Every current address once: the round-robin pick first, addresses marked down last.
    /// The first call starts resolving and waits (briefly) for the first answer.
    async fn order(&self) -> Result<Vec<SocketAddr>, Failure> {
        let watch = self
            .addresses
            .get_or_init(|| {
                watch_addresses(&self.host, self.port, &self.dns).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Failure::UpstreamConnect(e.clone().into()))?;
        if watch.borrow().is_empty() {
            let mut first = watch.clone();
            let _ = tokio::time::timeout(FIRST_ANSWER, first.wait_for(|a| !a.is_empty())).await;
        }
        let addresses = Arc::clone(&watch.borrow());
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.next.fetch_add(1, Ordering::Relaxed) % addresses.len();
        let now = Instant::now();
        let down = self.down.lock().map(|d| d.clone()).unwrap_or_default();
        let (mut up, mut down): (Vec<_>, Vec<_>) = (0..addresses.len())
            .map(|i| addresses[(first + i) % addresses.len()])
            .partition(|a| down.get(a).is_none_or(|until| *until <= now));
        up.append(&mut down);
        Ok(up)
    }

    fn mark(&self, addr: SocketAddr, up: bool) {
        if let Ok(mut down) = self.down.lock() {
            if up {
                down.remove(&addr);
            } else {
                down.insert(addr, Instant::now() + DOWN_FOR);
            }
        }
    }
}
