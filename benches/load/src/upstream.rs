//! The upstream every system forwards to: HTTP/1.1 keep-alive, a fixed small body, and a
//! count of the requests it served (how the harness proves the measured requests were
//! authorized and forwarded, not answered with a redirect).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The body every request gets: small and fixed, as in a health or API check.
pub const BODY: &[u8] =
    b"{\"ok\":true,\"service\":\"portcullis-load upstream\",\"padding\":\"0123456789abcdef\"}\n";

/// The running upstream; stops with the runtime.
#[derive(Debug)]
pub struct Upstream {
    addr: SocketAddr,
    served: Arc<AtomicU64>,
}

impl Upstream {
    /// Listens on 127.0.0.1 (a port the kernel picks) and serves until the runtime stops.
    pub async fn start() -> anyhow::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let served = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&served);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        async move {
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(BODY)))
                                    .expect("a static response"),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Upstream { addr, served })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests served so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}
