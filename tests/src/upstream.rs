//! A minimal upstream for end-to-end tests: answers every HTTP/1.1 request with
//! `200 {"upstream": name, "method", "path", "headers"}` (JSON) and `Connection: close`, and
//! records each request's head so a test can assert what the proxy forwarded. A request for
//! `/slow/<ms>` is recorded on arrival and answered after `<ms>` milliseconds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET`, ...
    pub method: String,
    /// The request target.
    pub path: String,
    /// Header names (lower-case) and values, in order.
    pub headers: Vec<(String, String)>,
}

/// A running echo upstream; stops when dropped.
#[derive(Debug)]
pub struct EchoUpstream {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EchoUpstream {
    /// Starts one on 127.0.0.1, a port the kernel chooses. Call inside a tokio runtime.
    pub async fn start(name: &str) -> anyhow::Result<EchoUpstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let (name, log) = (name.to_owned(), Arc::clone(&received));
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (name, log) = (name.clone(), Arc::clone(&log));
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let Some(request) = parse(&head) else { return };
                    let headers: Map<String, Value> = request
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect();
                    let body = json!({
                        "upstream": name,
                        "method": request.method,
                        "path": request.path,
                        "headers": headers,
                    })
                    .to_string();
                    let delay = request
                        .path
                        .strip_prefix("/slow/")
                        .and_then(|ms| ms.parse().ok())
                        .map(std::time::Duration::from_millis);
                    log.lock().unwrap().push(request);
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(EchoUpstream {
            address,
            received,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Received {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(head: &[u8]) -> Option<Received> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Received {
        method,
        path,
        headers,
    })
}
