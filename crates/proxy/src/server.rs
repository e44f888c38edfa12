//! Listeners: accept TCP (`TCP_NODELAY`), optionally TLS, then HTTP/1.1 or HTTP/2 (hyper-util's
//! auto builder; upgrades allowed), until the shutdown future resolves; then stop accepting
//! and drain the open connections (at most [`DRAIN_LIMIT`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

use crate::{HostService, ProxyBody, ProxyError, body};

mod framing;
pub(crate) mod tls;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the drain after shutdown waits for open requests.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// What the listener knows about a request's connection. The servers of this crate insert
/// it into every request's extensions.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// True when the connection is TLS.
    pub tls: bool,
    /// The SNI name the client sent, if any.
    pub server_name: Option<String>,
    /// The client certificate (DER) if the client presented one.
    pub client_certificate: Option<Arc<[u8]>>,
}

/// Listener settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeOptions {
    /// How long a client may take to send the request head (HTTP/1.1).
    pub(crate) header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `service` on `listener` (TLS when `tls` is given) until `shutdown` resolves, then
/// drains in-flight requests. Split-mode authenticate uses this for its own listener.
pub async fn serve_service(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: HostService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    serve_with(listener, tls, service, ServeOptions::default(), shutdown).await
}

/// `http_redirect_addr`: answers every request with a redirect to the same URL over HTTPS
/// (`301` for GET and HEAD, `308` otherwise, so bodies are re-sent).
pub async fn serve_http_redirect(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let service = HostService::new(tower::service_fn(|request: Request<Incoming>| async move {
        Ok::<_, std::convert::Infallible>(https_redirect(&request))
    }));
    serve_service(listener, None, service, shutdown).await
}

fn https_redirect<B>(request: &Request<B>) -> Response<ProxyBody> {
    let host = crate::target::Target::of(request).ok().map(|t| t.host);
    let Some(host) = host else {
        let mut response = Response::new(body::full("400 Bad Request: no valid host\n"));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let status = if matches!(request.method(), &http::Method::GET | &http::Method::HEAD) {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let location = format!("https://{host}{path}");
    let mut response = Response::new(body::empty());
    *response.status_mut() = status;
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The accept loop behind every listener of this crate.
pub(crate) async fn serve_with(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: HostService,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(128 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Duration::from_secs(30));
    let graceful = GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or a connection reset while queued: keep serving.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            builder: builder.clone(),
            service: service.clone(),
            watcher: graceful.watcher(),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(connection.run(stream, remote, acceptor));
    }
    drop(listener);
    tracing::debug!(open = graceful.count(), "draining connections");
    if tokio::time::timeout(DRAIN_LIMIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(limit = ?DRAIN_LIMIT, "connections still open after the drain limit");
    }
    Ok(())
}

/// `Strict-Transport-Security` on every answer sent over TLS — portcullis' own pages and
/// upstream responses — unless the response already has one (a route's
/// `set_response_headers`, or the upstream's own). A year, subdomains included, no `preload`
/// (a commitment only the site owner can make): what Pomerium and oauth2-proxy send, less
/// `preload`.
pub(crate) const HSTS: &str = "max-age=31536000; includeSubDomains";

fn add_hsts(headers: &mut http::HeaderMap) {
    if !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            http::HeaderValue::from_static(HSTS),
        );
    }
}

/// One accepted connection.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    service: HostService,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    async fn run(
        self,
        stream: TcpStream,
        remote: SocketAddr,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let Some(acceptor) = acceptor else {
            let info = ClientInfo {
                remote,
                tls: false,
                server_name: None,
                client_certificate: None,
            };
            return self.serve(TokioIo::new(stream), info).await;
        };
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%remote, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake timed out");
                return;
            }
        };
        let session = stream.get_ref().1;
        let info = ClientInfo {
            remote,
            tls: true,
            server_name: session.server_name().map(str::to_owned),
            client_certificate: session
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::from(c.as_ref())),
        };
        self.serve(TokioIo::new(stream), info).await;
    }

    async fn serve<I>(self, io: I, info: ClientInfo)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let service = self.service;
        let hyper_service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let refused = framing::check(&request);
            let tls = info.tls;
            request.extensions_mut().insert(info.clone());
            let service = service.clone();
            async move {
                let mut response = match refused {
                    Some(reason) => framing::refuse(reason),
                    None => service.oneshot(request).await?,
                };
                if tls {
                    add_hsts(response.headers_mut());
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(io, hyper_service)
            .into_owned();
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(%error, "connection ended with an error");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_is_added_unless_already_set() {
        let mut headers = http::HeaderMap::new();
        add_hsts(&mut headers);
        assert_eq!(headers["strict-transport-security"], HSTS);
        let mut headers = http::HeaderMap::new();
        headers.insert("strict-transport-security", "max-age=0".parse().unwrap());
        add_hsts(&mut headers);
        assert_eq!(headers["strict-transport-security"], "max-age=0");
    }

    #[test]
    fn redirects_keep_host_path_and_query() {
        let request = Request::get("/a/b?c=d")
            .header("host", "app.example.com:80")
            .body(())
            .unwrap();
        let response = https_redirect(&request);
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            response.headers()["location"],
            "https://app.example.com/a/b?c=d"
        );
        let post = Request::post("/form").header("host", "x").body(()).unwrap();
        assert_eq!(
            https_redirect(&post).status(),
            StatusCode::PERMANENT_REDIRECT
        );
        let bad = Request::get("/").body(()).unwrap();
        assert_eq!(https_redirect(&bad).status(), StatusCode::BAD_REQUEST);
    }
}
