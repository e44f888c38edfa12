//! Shared setup for the proxy tests: a configuration from YAML, a memory databroker, the real
//! authorize engine as the `Authorizer`, a `Proxy` on 127.0.0.1:0, an HTTP client, and
//! logged-in sessions written the way authenticate writes them.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portcullis_authorize::Engine;
use portcullis_databroker::storage::memory::Memory;
use portcullis_databroker::{RecordWrite, Storage};
use portcullis_grpc::{SessionHandle, SessionHandleCodec};
use portcullis_proto::{Session, User};
use portcullis_proxy::{Proxy, ProxyError};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const SHARED_SECRET: [u8; 32] = [42; 32];
pub const SHARED_SECRET_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
pub const COOKIE_SECRET: [u8; 32] = [7; 32];
pub const COOKIE_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const AUTHENTICATE_URL: &str = "https://auth.example.com";
/// What a browser sends as `Accept`.
pub const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The top of every test configuration: the proxy, authorize and databroker roles (no IdP
/// needed), plain HTTP unless `extra` asks otherwise.
pub fn config(extra: &str, routes: &str) -> portcullis_config::Config {
    let yaml = format!(
        "services: proxy,authorize,databroker\n\
         shared_secret: {SHARED_SECRET_B64}\n\
         cookie_secret: {COOKIE_SECRET_B64}\n\
         authenticate_service_url: {AUTHENTICATE_URL}\n\
         jwt_claims_headers:\n  X-Email: email\n\
         {extra}\
         routes:\n{routes}"
    );
    portcullis_config::Config::from_sources(&yaml, "proxy-test.yaml", &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// A proxy serving `config` with the real authorize engine over a memory databroker.
pub struct Harness {
    pub addr: SocketAddr,
    pub databroker: Arc<dyn Storage>,
    pub engine: Arc<Engine>,
    pub proxy: Arc<Proxy>,
    client: Client<HttpConnector, TestBody>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ProxyError>>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Harness {
    /// Plain HTTP (`insecure_server`) with `routes`.
    pub async fn start(routes: &str) -> Harness {
        Harness::start_with("insecure_server: true\n", routes).await
    }

    /// `extra` top-level keys, then `routes`.
    pub async fn start_with(extra: &str, routes: &str) -> Harness {
        Harness::serve(config(extra, routes)).await
    }

    /// Serves `config`.
    pub async fn serve(config: portcullis_config::Config) -> Harness {
        Harness::serve_with_authenticate(config, None).await
    }

    /// Serves `config`, with `authenticate` answering the authenticate host.
    pub async fn serve_with_authenticate(
        config: portcullis_config::Config,
        authenticate: Option<portcullis_proxy::HostService>,
    ) -> Harness {
        let databroker: Arc<dyn Storage> = Arc::new(Memory::new());
        let engine = Arc::new(Engine::new(&config, Arc::clone(&databroker)).expect("engine"));
        let jwks = serde_json::to_string(&engine.signing_key().jwks()).unwrap();
        let mut proxy =
            Proxy::new(&config, engine.clone(), Arc::clone(&databroker), jwks).expect("proxy");
        if let Some(service) = authenticate {
            proxy = proxy.with_authenticate(service);
        }
        let proxy = Arc::new(proxy);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(Arc::clone(&proxy).serve(listener, async move {
            let _ = stopped.await;
        }));
        Harness {
            addr,
            databroker,
            engine,
            proxy,
            client: client(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Sends `request` (its URI's path; the proxy's address is filled in).
    pub async fn send(&self, mut request: Request<TestBody>) -> Response<Incoming> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), |p| p.to_string());
        *request.uri_mut() = format!("http://{}{path}", self.addr).parse().unwrap();
        self.client
            .request(request)
            .await
            .expect("the proxy answers")
    }

    /// `GET http://<host><path>` through the proxy with `headers`, read whole.
    pub async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.call("GET", host, path, headers, Bytes::new()).await
    }

    /// Any method, with a body, read whole.
    pub async fn call(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", host);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = self.send(builder.body(full(body)).unwrap()).await;
        read(response).await
    }

    /// Stops accepting, drains, and returns how serving ended.
    pub async fn stop(mut self) -> Result<(), ProxyError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().unwrap().await.expect("the serve task")
    }

    /// Writes a session for `email` (groups `groups`); returns its handle.
    pub async fn login(&self, n: &str, email: &str, groups: &[&str]) -> Login {
        Login::write(
            self.databroker.as_ref(),
            n,
            email,
            groups,
            Duration::from_secs(3600),
        )
        .await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A pooled HTTP/1.1 client (and h2 by prior knowledge when asked).
pub fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Reads a response whole.
pub async fn read(response: Response<Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `set-cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The echo upstream's view of the request: `headers[name]` (first value).
    pub fn seen_header(&self, name: &str) -> Option<String> {
        let json = self.json();
        json["headers"][name]
            .as_array()
            .and_then(|v| v.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The echo upstream's request target.
    pub fn seen_uri(&self) -> String {
        self.json()["uri"].as_str().unwrap_or_default().to_owned()
    }

    /// Which echo upstream answered.
    pub fn upstream(&self) -> String {
        self.json()["upstream"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A signed-in session, as authenticate writes it.
#[derive(Debug, Clone)]
pub struct Login {
    pub handle: SessionHandle,
    pub token: String,
}

impl Login {
    pub async fn write(
        databroker: &dyn Storage,
        n: &str,
        email: &str,
        groups: &[&str],
        lifetime: Duration,
    ) -> Login {
        let now = SystemTime::now();
        let claims = match json!({"email": email}) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let session = Session {
            id: format!("session-{n}"),
            user_id: format!("user-{n}"),
            issued_at: now,
            expires_at: now + lifetime,
            refreshed_at: None,
            claims,
            oauth_token: None,
            id_token: portcullis_proto::SecretString::new("id-token"),
        };
        let user = User {
            id: session.user_id.clone(),
            email: email.to_owned(),
            name: format!("Name of {n}"),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            claims: Map::new(),
        };
        let handle = portcullis_testing::login::write_login(databroker, &session, &user).await;
        let token = SessionHandleCodec::new(&COOKIE_SECRET).seal(&handle);
        Login { handle, token }
    }

    /// The `cookie` header value carrying the session cookie.
    pub fn cookie(&self) -> String {
        format!("_portcullis={}", self.token)
    }

    /// Deletes the session record (what sign-out or the refresh manager does).
    pub async fn revoke(&self, databroker: &dyn Storage) {
        databroker
            .put(vec![RecordWrite::delete(
                Session::TYPE,
                &self.handle.session_id,
            )])
            .await
            .expect("delete the session");
    }
}

/// Waits (with a deadline) until `check` holds; panics naming `what` otherwise.
pub async fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    portcullis_testing::wait::until_async(timeout, what, || {
        let ok = check();
        async move { ok.then_some(()) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

/// One route line: `- {id: <id>, from: <from>, to: <to>, <rest>}`.
pub fn route(id: &str, from: &str, to: &str, rest: &str) -> String {
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(", {rest}")
    };
    format!("  - {{id: {id}, from: '{from}', to: '{to}'{rest}}}\n")
}

/// A public route (anyone may pass).
pub fn public(id: &str, from: &str, to: &str, rest: &str) -> String {
    let rest = if rest.is_empty() {
        "allow_public_unauthenticated_access: true".to_owned()
    } else {
        format!("allow_public_unauthenticated_access: true, {rest}")
    };
    route(id, from, to, &rest)
}

/// The three routes the endpoint and forward-auth tests share: `app` (domain example.com),
/// `admin` (root@example.com only) and a public one.
pub fn app_admin_public(upstream: &str) -> String {
    [
        route(
            "app",
            "https://app.example.com",
            upstream,
            "allowed_domains: [example.com]",
        ),
        route(
            "admin",
            "https://admin.example.com",
            upstream,
            "allowed_users: [root@example.com]",
        ),
        public("pub", "https://public.example.com", upstream, ""),
    ]
    .concat()
}

/// The first value of query parameter `name`.
pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
