//! Real upstream servers for the proxy tests, on 127.0.0.1:0: hyper with HTTP/1.1 and HTTP/2
//! (prior knowledge, so h2c too), optionally over TLS, plus a WebSocket echo server.
//!
//! The HTTP upstream answers by path:
//! - `/slow/<ms>…`: waits, then echoes;
//! - `/stream…`: sends `first\n` at once, the rest (1 MiB, then `end\n`) only after
//!   [`Upstream::release`];
//! - `/upload…`: reads the request body frame by frame, tells [`Upstream::first_frame`] about
//!   the first one, answers with the byte count;
//! - anything else: `200` JSON `{upstream, method, uri, version, headers: {name: [values]}}`.
//!
//! [`WsEcho`] is a WebSocket echo server ([`ws`]: a minimal RFC 6455 implementation).

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

#[path = "ws.rs"]
pub mod ws;

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// A running upstream; stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct State {
    name: String,
    seen: Mutex<Vec<Seen>>,
    gate: Notify,
    first_frame: Notify,
}

/// A request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

impl Upstream {
    /// Plain HTTP/1.1 and h2c.
    pub async fn http(name: &str) -> Upstream {
        Upstream::start(name, None).await
    }

    /// HTTPS with `tls` (ALPN as it says).
    pub async fn https(name: &str, tls: Arc<rustls::ServerConfig>) -> Upstream {
        Upstream::start(name, Some(tls)).await
    }

    async fn start(name: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            name: name.to_owned(),
            ..State::default()
        });
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                    }
                });
            }
        });
        Upstream {
            addr,
            name: name.to_owned(),
            state,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Lets a `/stream` response finish.
    pub fn release(&self) {
        self.state.gate.notify_waiters();
        self.state.gate.notify_one();
    }

    /// Resolves when an `/upload` request's first body frame arrived.
    pub async fn first_frame(&self) {
        self.state.first_frame.notified().await;
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(state: &Arc<State>, request: Request<Incoming>) -> Response<Body> {
    let seen = Seen {
        method: request.method().to_string(),
        uri: request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), |p| p.to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_owned()))
            .collect(),
    };
    state.seen.lock().unwrap().push(seen.clone());
    let path = request.uri().path().to_owned();
    if let Some(ms) = path.strip_prefix("/slow/") {
        let ms: u64 = ms.split('/').next().unwrap_or("0").parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if path.starts_with("/stream") {
        return stream(Arc::clone(state));
    }
    if path.starts_with("/upload") {
        let mut body = request.into_body();
        let mut total = 0usize;
        let mut first = true;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                total += data.len();
                if first && !data.is_empty() {
                    first = false;
                    state.first_frame.notify_one();
                }
            }
        }
        return Response::new(Full::new(Bytes::from(total.to_string())).boxed());
    }
    let mut headers = Map::new();
    for (k, v) in &seen.headers {
        headers
            .entry(k.clone())
            .or_insert_with(|| Value::Array(vec![]))
            .as_array_mut()
            .unwrap()
            .push(Value::from(v.as_str()));
    }
    let body = json!({
        "upstream": state.name,
        "method": seen.method,
        "uri": seen.uri,
        "version": format!("{:?}", request.version()),
        "headers": headers,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
        .headers_mut()
        .insert("x-upstream", state.name.parse().unwrap());
    // Hop-by-hop headers an upstream might send; the proxy must not pass them on.
    response
        .headers_mut()
        .insert("keep-alive", "timeout=5".parse().unwrap());
    response
}

fn stream(state: Arc<State>) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let _ = tx.send(Bytes::from_static(b"first\n")).await;
        state.gate.notified().await;
        for _ in 0..16 {
            let _ = tx.send(Bytes::from(vec![b'x'; 64 * 1024])).await;
        }
        let _ = tx.send(Bytes::from_static(b"end\n")).await;
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
    });
    let mut response = Response::new(http_body_util::BodyExt::boxed(StreamBody::new(frames)));
    *response.status_mut() = StatusCode::OK;
    response
}

/// The header lists of the upgrade requests a [`WsEcho`] saw.
pub type HeaderLog = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A WebSocket echo server; records each upgrade request's headers.
pub struct WsEcho {
    pub addr: SocketAddr,
    pub headers: HeaderLog,
    task: tokio::task::JoinHandle<()>,
}

impl WsEcho {
    pub async fn start() -> WsEcho {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let headers: HeaderLog = Arc::default();
        let log = Arc::clone(&headers);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let Ok((mut ws, seen)) = ws::accept(stream).await else {
                        return;
                    };
                    log.lock().unwrap().push(seen);
                    while let Some(message) = ws.recv().await {
                        if message == ws::Message::Close || ws.send(&message).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        WsEcho {
            addr,
            headers,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for WsEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}
