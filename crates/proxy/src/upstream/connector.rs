//! The HTTPS connector: TCP through hyper-util's [`HttpConnector`], then rustls. Tells the
//! pool when ALPN chose `h2`, so the connection speaks HTTP/2.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::BoxError;

/// Connects to HTTPS upstreams with one rustls client configuration.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    tcp: HttpConnector,
    tls: tokio_rustls::TlsConnector,
    /// `tls_server_name`: the name to send and verify instead of the URL's host.
    server_name: Option<ServerName<'static>>,
}

/// A TLS connection to an upstream.
#[derive(Debug)]
pub(crate) struct TlsConnection(TokioIo<TlsStream<TcpStream>>);

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

// === impl TlsConnector ===

impl TlsConnector {
    pub(crate) fn new(
        tcp: HttpConnector,
        config: Arc<rustls::ClientConfig>,
        server_name: Option<ServerName<'static>>,
    ) -> TlsConnector {
        TlsConnector {
            tcp,
            tls: tokio_rustls::TlsConnector::from(config),
            server_name,
        }
    }
}

impl tower::Service<Uri> for TlsConnector {
    type Response = TlsConnection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsConnection, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower::Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let name = match &self.server_name {
            Some(name) => Ok(name.clone()),
            None => {
                let host = uri.host().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                ServerName::try_from(host.to_owned())
                    .map_err(|_| BoxError::from(format!("{host:?} is not a valid TLS server name")))
            }
        };
        let connecting = tower::Service::<Uri>::call(&mut self.tcp, uri);
        let tls = self.tls.clone();
        Box::pin(async move {
            let name = name?;
            let tcp = connecting.await?.into_inner();
            let stream = tls.connect(name, tcp).await?;
            Ok(TlsConnection(TokioIo::new(stream)))
        })
    }
}

// === impl TlsConnection ===

impl Connection for TlsConnection {
    fn connected(&self) -> Connected {
        let (tcp, session) = self.0.inner().get_ref();
        let connected = tcp.connected();
        if session.alpn_protocol() == Some(b"h2") {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl Read for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Write for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
}
