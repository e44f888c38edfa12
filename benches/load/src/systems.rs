//! The systems under load, all forwarding to the same [`Upstream`]:
//!
//! - **direct**: the upstream itself (the floor for latency, the ceiling for throughput);
//! - **nginx**: Debian's nginx as a plain `proxy_pass` with keep-alive upstream connections and
//!   no access log — the no-auth ceiling for a proxy;
//! - **all-in-one**: one `portcullis` process (`services: all`), a route that requires a
//!   signed-in user, the session cookie sent with every request;
//! - **split**: a `portcullis` proxy process asking a separate databroker+authorize process
//!   over gRPC on every request.
//!
//! Both portcullis systems run with the access and decision log lines filtered out, as nginx
//! runs with `access_log off`; everything else is the default configuration.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use portcullis_databroker::Storage;
use portcullis_grpc::{DnsOptions, SessionHandleCodec, SharedSecret};
use portcullis_proto::{Session, User};
use portcullis_testing::nginx::Nginx;
use portcullis_testing::process::Portcullis;

use crate::upstream::Upstream;

/// The route host every system is asked for.
pub const HOST: &str = "app.load.test";
const SHARED_SECRET: [u8; 32] = [0x5a; 32];
const COOKIE_SECRET: [u8; 32] = [0xc3; 32];

/// What the load generators need to reach a system and count its memory.
#[derive(Debug, Clone)]
pub struct System {
    /// `direct`, `nginx`, `all-in-one`, `split`.
    pub name: &'static str,
    /// Where to send requests (`Host` is [`HOST`]).
    pub addr: SocketAddr,
    /// The `cookie` header of a signed-in user, for the portcullis systems.
    pub cookie: Option<String>,
    /// The processes to measure (with their descendants).
    pub pids: Vec<u32>,
}

/// The four systems, running.
#[derive(Debug)]
pub struct Systems {
    systems: Vec<System>,
    _nginx: Nginx,
    _portcullis: Vec<Portcullis>,
}

impl Systems {
    /// Starts nginx, portcullis all-in-one and split, and signs a user in on each portcullis.
    pub async fn start(upstream: &Upstream) -> anyhow::Result<Systems> {
        let to = upstream.addr();
        let nginx = Nginx::start(|dir, listen| nginx_config(dir, listen, to)).await?;

        let all_in_one = Portcullis::start_with_env(&all_in_one_config(to), &log_filter())?;
        let aio_cookie = sign_in(all_in_one.address("databroker"), "aio").await?;

        let backend = Portcullis::start_with_env(&backend_config(to), &log_filter())?;
        let grpc = backend.address("databroker");
        let proxy = Portcullis::start_with_env(&proxy_config(to, grpc), &log_filter())?;
        let split_cookie = sign_in(grpc, "split").await?;

        let systems = vec![
            System {
                name: "direct",
                addr: to,
                cookie: None,
                pids: Vec::new(),
            },
            System {
                name: "nginx",
                addr: nginx.addr(),
                cookie: None,
                pids: vec![nginx.pid()],
            },
            System {
                name: "all-in-one",
                addr: all_in_one.address("proxy"),
                cookie: Some(aio_cookie),
                pids: vec![all_in_one.pid()],
            },
            System {
                name: "split",
                addr: proxy.address("proxy"),
                cookie: Some(split_cookie),
                pids: vec![proxy.pid(), backend.pid()],
            },
        ];
        for system in &systems {
            wait_until_allowed(system).await?;
        }
        Ok(Systems {
            systems,
            _nginx: nginx,
            _portcullis: vec![all_in_one, backend, proxy],
        })
    }

    /// Every system, in a fixed order.
    pub fn all(&self) -> impl Iterator<Item = &System> {
        self.systems.iter()
    }
}

/// Resident memory of a fresh all-in-one process: idle after one signed-in request, then with
/// `options.sessions` more sessions synced into its replica.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// KiB resident, idle.
    pub idle_kib: u64,
    /// KiB resident with the sessions.
    pub with_sessions_kib: u64,
    /// How many sessions.
    pub sessions: u32,
}

/// Measures [`Memory`] on a new all-in-one process.
pub async fn memory(upstream: &Upstream, options: &crate::Options) -> anyhow::Result<Memory> {
    let process = Portcullis::start_with_env(&all_in_one_config(upstream.addr()), &log_filter())?;
    let grpc = process.address("databroker");
    let cookie = sign_in(grpc, "idle").await?;
    let system = System {
        name: "all-in-one (memory)",
        addr: process.address("proxy"),
        cookie: Some(cookie),
        pids: vec![process.pid()],
    };
    wait_until_allowed(&system).await?;
    let idle_kib = crate::rss::current_kib(&system.pids)?;

    let databroker = databroker(grpc)?;
    let mut last = None;
    for batch in 0..options.sessions.div_ceil(1_000) {
        let first = batch * 1_000;
        let count = (options.sessions - first).min(1_000);
        last = Some(write_sessions(&databroker, first, count).await?);
    }
    let system = System {
        cookie: last.or(system.cookie),
        ..system
    };
    // The last session allowed means the replica holds every session written before it.
    wait_until_allowed(&system).await?;
    let with_sessions_kib = crate::rss::current_kib(&system.pids)?;
    Ok(Memory {
        idle_kib,
        with_sessions_kib,
        sessions: options.sessions,
    })
}

fn databroker(grpc: SocketAddr) -> anyhow::Result<portcullis_databroker::Client> {
    portcullis_databroker::connect_with(
        &format!("http://{grpc}"),
        &SharedSecret::from(SHARED_SECRET),
        &DnsOptions::default(),
    )
    .context("connect to the databroker")
}

/// Writes one signed-in user through the databroker at `grpc`; returns the cookie header.
async fn sign_in(grpc: SocketAddr, name: &str) -> anyhow::Result<String> {
    let databroker = databroker(grpc)?;
    let (session, user) = login(name);
    let handle = portcullis_testing::login::write_login(&databroker, &session, &user).await;
    Ok(cookie(
        &SessionHandleCodec::new(&COOKIE_SECRET).seal(&handle),
    ))
}

/// Writes `count` sessions (with their users) in one put; returns the last one's cookie.
async fn write_sessions(
    databroker: &dyn Storage,
    first: u32,
    count: u32,
) -> anyhow::Result<String> {
    use portcullis_databroker::{Data, RecordWrite};
    let mut writes = Vec::with_capacity(count as usize * 2);
    let mut last = None;
    for n in first..first + count {
        let (session, user) = login(&format!("bulk-{n}"));
        let data = |type_url: &str, value| Data {
            type_url: type_url.to_owned(),
            value,
        };
        writes.push(RecordWrite::put(
            User::TYPE,
            &user.id,
            data(User::TYPE_URL, user.encode()),
        ));
        writes.push(RecordWrite::put(
            Session::TYPE,
            &session.id,
            data(Session::TYPE_URL, session.encode()),
        ));
        last = Some(session);
    }
    let written = databroker.put(writes).await?;
    let session = last.context("at least one session")?;
    let handle = portcullis_grpc::SessionHandle {
        session_id: session.id.clone(),
        user_id: session.user_id.clone(),
        issued_at: session.issued_at,
        version: written.iter().map(|r| r.version).max().unwrap_or_default(),
    };
    Ok(cookie(
        &SessionHandleCodec::new(&COOKIE_SECRET).seal(&handle),
    ))
}

/// A session and user shaped like the ones authenticate writes after an OIDC login: claims
/// from the ID token, the ID token itself (~900 bytes, as a real IdP's), groups.
fn login(name: &str) -> (Session, User) {
    let now = SystemTime::now();
    let email = format!("{name}@example.com");
    let mut claims = serde_json::Map::new();
    claims.insert("email".into(), email.clone().into());
    claims.insert("email_verified".into(), true.into());
    let session = Session {
        id: format!("session-{name}"),
        user_id: format!("user-{name}"),
        issued_at: now,
        expires_at: now + Duration::from_secs(14 * 3600),
        refreshed_at: None,
        claims,
        oauth_token: None,
        id_token: portcullis_proto::SecretString::new("e".repeat(900)),
    };
    let user = User {
        id: session.user_id.clone(),
        email,
        name: format!("User {name}"),
        groups: vec!["staff".into(), "engineering".into()],
        claims: serde_json::Map::new(),
    };
    (session, user)
}

fn cookie(token: &str) -> String {
    format!("_portcullis={token}")
}

/// Waits (10 s at most) until a request with the system's cookie reaches the upstream.
async fn wait_until_allowed(system: &System) -> anyhow::Result<()> {
    let client = crate::rate::client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = crate::rate::get(&client, system).await.ok();
        if status == Some(200) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{}: a signed-in request still gets {status:?} after 10 s",
            system.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Access and decision lines off, as nginx's `access_log off`.
fn log_filter() -> Vec<(&'static str, &'static str)> {
    vec![(
        "RUST_LOG",
        "info,portcullis::access=off,portcullis_authorize::decision=off",
    )]
}

fn secrets() -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "shared_secret: {}\ncookie_secret: {}\n",
        b64.encode(SHARED_SECRET),
        b64.encode(COOKIE_SECRET)
    )
}

fn route(to: SocketAddr) -> String {
    format!(
        "routes:\n  - from: http://{HOST}\n    to: http://{to}\n    allow_any_authenticated_user: true\n"
    )
}

const IDP: &str = "authenticate_service_url: http://authenticate.load.test\n\
                   idp_provider: oidc\n\
                   idp_provider_url: http://127.0.0.1:9/\n\
                   idp_client_id: portcullis-load\n\
                   idp_client_secret: unused\n";

fn all_in_one_config(to: SocketAddr) -> String {
    format!(
        "address: 127.0.0.1:0\ngrpc_address: 127.0.0.1:0\ninsecure_server: true\n{}{IDP}{}",
        secrets(),
        route(to)
    )
}

/// Authorize decides by the route's policy, so it has the routes too.
fn backend_config(to: SocketAddr) -> String {
    format!(
        "services: databroker,authorize\ngrpc_address: 127.0.0.1:0\n{}\
         authenticate_service_url: http://authenticate.load.test\n{}",
        secrets(),
        route(to)
    )
}

fn proxy_config(to: SocketAddr, grpc: SocketAddr) -> String {
    format!(
        "services: proxy\naddress: 127.0.0.1:0\ninsecure_server: true\n{}\
         authenticate_service_url: http://authenticate.load.test\n\
         authorize_service_url: http://{grpc}\ndatabroker_service_url: http://{grpc}\n{}",
        secrets(),
        route(to)
    )
}

/// nginx as a plain reverse proxy: two workers (one per core, as portcullis' runtime),
/// keep-alive connections to the upstream, no access log.
fn nginx_config(dir: &std::path::Path, listen: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
worker_processes 2;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream app {{ server {upstream}; keepalive 128; }}
  server {{
    listen {listen};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }}
  }}
}}
"#
    )
}
