//! Shared setup for the attack suite (tests/tests/attack_*.rs): the real `portcullis`
//! all-in-one process on 127.0.0.1:0 in front of an [`EchoUpstream`] that records every
//! request reaching it, sessions written through the process's own databroker (gRPC, with the
//! shared secret), and a raw HTTP/1.1 client that sends exactly the bytes a test writes.
//!
//! Routes (plain HTTP, `*.example.test`):
//! - `admin`: `app.example.test` prefix `/admin`, root@example.com only;
//! - `app`: the rest of `app.example.test`, any example.com user, identity headers passed;
//! - `public`: `public.example.test`, anyone, `preserve_host_header` (the upstream sees the
//!   host portcullis decided on);
//! - `port`: `port.example.test:8080`, anyone.
//!
//! The authenticate host is `authenticate.example.test` on the same listener; the IdP is
//! unreachable unless a test sets `idp` (no attack here needs a working login).

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use portcullis_databroker::{RecordWrite, Storage as _};
use portcullis_grpc::{SessionHandle, SessionHandleCodec, SharedSecret};
use portcullis_proto::{Session, User};
use portcullis_testing::process::Portcullis;
use portcullis_testing::upstream::{EchoUpstream, Received};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const SHARED_SECRET: [u8; 32] = [0x11; 32];
pub const SHARED_SECRET_B64: &str = "ERERERERERERERERERERERERERERERERERERERERERE=";
pub const COOKIE_SECRET: [u8; 32] = [0x22; 32];
pub const COOKIE_SECRET_B64: &str = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=";
pub const APP: &str = "app.example.test";
pub const PUBLIC: &str = "public.example.test";
pub const AUTHENTICATE: &str = "authenticate.example.test";

/// A running all-in-one process, its upstream and a databroker client.
pub struct Cluster {
    pub portcullis: Portcullis,
    pub upstream: EchoUpstream,
    pub proxy: SocketAddr,
    pub grpc: SocketAddr,
    pub databroker: portcullis_databroker::Client,
}

/// Options for [`Cluster::start_with`].
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `idp_provider_url` (default: nothing listens there).
    pub idp: Option<String>,
    /// Extra top-level YAML.
    pub extra: String,
    /// Replaces the `insecure_server: true` line (TLS tests give certificates here).
    pub listener: Option<String>,
    /// The routes' scheme (default `http`).
    pub scheme: Option<&'static str>,
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Login {
    pub handle: SessionHandle,
    /// The sealed handle (cookie value / bearer token).
    pub token: String,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Cluster {
        let upstream = EchoUpstream::start("up").await.unwrap();
        let config = config(&upstream.url(), &options);
        let portcullis = tokio::task::spawn_blocking(move || Portcullis::start(&config))
            .await
            .unwrap()
            .expect("portcullis starts");
        let proxy = portcullis.address("proxy");
        let grpc = portcullis.address("databroker");
        let databroker = portcullis_databroker::connect(
            &format!("http://{grpc}"),
            &SharedSecret::from(SHARED_SECRET),
        )
        .unwrap();
        Cluster {
            portcullis,
            upstream,
            proxy,
            grpc,
            databroker,
        }
    }

    /// Every request the upstream has received.
    pub fn seen(&self) -> Vec<Received> {
        self.upstream.received()
    }

    /// Writes a session for `email` living `lifetime` (negative: already expired).
    pub async fn login_for(&self, n: &str, email: &str, lifetime: Option<Duration>) -> Login {
        let now = SystemTime::now();
        let expires_at = match lifetime {
            Some(l) => now + l,
            None => now - Duration::from_secs(60),
        };
        let claims = match json!({"email": email}) {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let session = Session {
            id: format!("session-{n}"),
            user_id: format!("user-{n}"),
            issued_at: now - Duration::from_secs(120),
            expires_at,
            refreshed_at: None,
            claims,
            oauth_token: None,
            id_token: portcullis_proto::SecretString::new("id-token"),
        };
        let user = User {
            id: session.user_id.clone(),
            email: email.to_owned(),
            name: format!("Name of {n}"),
            groups: Vec::new(),
            claims: serde_json::Map::new(),
        };
        let handle =
            portcullis_testing::login::write_login(&self.databroker, &session, &user).await;
        let token = SessionHandleCodec::new(&COOKIE_SECRET).seal(&handle);
        Login { handle, token }
    }

    /// A session for `email` valid for an hour.
    pub async fn login(&self, n: &str, email: &str) -> Login {
        self.login_for(n, email, Some(Duration::from_secs(3600)))
            .await
    }

    /// Deletes the session record through the databroker.
    pub async fn delete_session(&self, login: &Login) {
        self.databroker
            .put(vec![RecordWrite::delete(
                Session::TYPE,
                &login.handle.session_id,
            )])
            .await
            .expect("delete the session");
    }

    /// `GET path` on `host` with `headers` (raw HTTP/1.1, `Connection: close`).
    pub async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Raw {
        let mut request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("connection: close\r\n\r\n");
        raw(self.proxy, request.as_bytes()).await
    }

    /// Asserts that `before` requests are all the upstream has seen, naming the case.
    pub fn assert_upstream_saw(&self, before: usize, case: &str) {
        let seen = self.seen();
        assert_eq!(
            seen.len(),
            before,
            "{case}: the upstream saw {:?}",
            &seen[before.min(seen.len())..]
        );
    }
}

impl Login {
    pub fn cookie(&self) -> String {
        format!("_portcullis={}", self.token)
    }
}

fn config(upstream: &str, options: &Options) -> String {
    let scheme = options.scheme.unwrap_or("http");
    let idp = options.idp.as_deref().unwrap_or("http://127.0.0.1:9/");
    let listener = options
        .listener
        .clone()
        .unwrap_or_else(|| "insecure_server: true\n".to_owned());
    format!(
        "address: 127.0.0.1:0\n\
         grpc_address: 127.0.0.1:0\n\
         {listener}\
         shared_secret: {SHARED_SECRET_B64}\n\
         cookie_secret: {COOKIE_SECRET_B64}\n\
         authenticate_service_url: {scheme}://{AUTHENTICATE}\n\
         idp_provider: oidc\n\
         idp_provider_url: {idp}\n\
         idp_client_id: portcullis\n\
         idp_client_secret: idp-client-secret\n\
         {extra}\
         routes:\n\
         \x20 - {{id: admin, from: '{scheme}://{APP}', prefix: /admin, to: '{upstream}', allowed_users: [root@example.com]}}\n\
         \x20 - {{id: app, from: '{scheme}://{APP}', to: '{upstream}', allowed_domains: [example.com], pass_identity_headers: true}}\n\
         \x20 - {{id: public, from: '{scheme}://{PUBLIC}', to: '{upstream}', allow_public_unauthenticated_access: true, preserve_host_header: true}}\n\
         \x20 - {{id: port, from: '{scheme}://port.example.test:8080', to: '{upstream}', allow_public_unauthenticated_access: true}}\n",
        extra = options.extra,
    )
}

/// A response read off a raw connection: everything up to the server's close.
#[derive(Debug, Clone)]
pub struct Raw {
    /// The status of the first response (0: none).
    pub status: u16,
    /// The first response's header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Everything the server sent.
    pub bytes: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// How many HTTP/1.1 responses the server sent on the connection.
    pub fn responses(&self) -> usize {
        self.text().matches("HTTP/1.1 ").count()
    }
}

/// Sends `request` as written on a new connection; reads until the server closes (or 10 s).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    read_all(&mut stream).await
}

/// Reads until close, a 10 s deadline, or an error; parses the first response head.
pub async fn read_all<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Raw {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    parse(bytes)
}

fn parse(bytes: Vec<u8>) -> Raw {
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        bytes,
    }
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of `header` and `claims`: HS256 under `key`, or no signature at all.
pub fn jwt(header: &serde_json::Value, claims: &serde_json::Value, key: Option<&[u8]>) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = key.map_or_else(String::new, |key| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        b64(ring::hmac::sign(&key, signing_input.as_bytes()).as_ref())
    });
    format!("{signing_input}.{signature}")
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
