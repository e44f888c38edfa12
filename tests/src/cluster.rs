//! A split-mode cluster of real `portcullis` processes behind a real DNS server (design §1,
//! §7): dnsmasq maps `authorize.test` to two authorize processes on `127.0.0.2` and
//! `127.0.0.3` (one port, both addresses) and `databroker.test` to two databroker processes
//! sharing one PostgreSQL database; a proxy and an authenticate process (on `127.0.0.1`,
//! ports the kernel chooses) reach them by those names through `dns_resolvers`.
//!
//! [`Spec`] says what differs between tests (routes, IdP, certificates, a restartable
//! PostgreSQL of its own); [`Cluster`] starts everything, writes logged-in sessions, adds an
//! authorize replica to DNS and reloads every process with new routes.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use portcullis_grpc::{DnsOptions, SessionHandleCodec, SharedSecret};
use portcullis_proto::{Session, User};

use crate::dns::{DnsServer, bind_same_port};
use crate::postgres::{self, Database, Postgres};
use crate::process::Portcullis;

/// The shared secret of every process.
pub const SHARED_SECRET: [u8; 32] = [42; 32];
const SHARED_SECRET_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
/// The cookie secret of every process.
pub const COOKIE_SECRET: [u8; 32] = [7; 32];
const COOKIE_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// The DNS name of the authorize replicas.
pub const AUTHORIZE_NAME: &str = "authorize.test";
/// The DNS name the proxy forwards the authenticate host to
/// (`authenticate_internal_service_url`).
pub const AUTHENTICATE_NAME: &str = "authenticate.test";
/// The DNS name of the databroker replicas.
pub const DATABROKER_NAME: &str = "databroker.test";
/// How many authorize replicas may run on the one authorize port (`127.0.0.2` and up).
const AUTHORIZE_SLOTS: u8 = 3;

/// What a test's cluster looks like.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The items of `routes:` (YAML, each starting `  - from: ...`).
    pub routes: String,
    /// Top-level YAML every process gets: `authenticate_service_url` and the IdP.
    pub common: String,
    /// The proxy's certificate and key files (PEM); without, it serves plain HTTP. The other
    /// processes always do (authenticate is reached through the proxy).
    pub certificate: Option<(PathBuf, PathBuf)>,
    /// Top-level YAML only the proxy gets.
    pub proxy: String,
    /// A PostgreSQL server of the cluster's own (tests that stop it), instead of a database
    /// on the server shared by the test process.
    pub own_postgres: bool,
    /// `dns_refresh_rate` of every process.
    pub dns_refresh_rate: Duration,
}

/// The running cluster; every process is killed when dropped.
#[derive(Debug)]
pub struct Cluster {
    /// The proxy (`services: proxy`), on 127.0.0.1.
    pub proxy: Portcullis,
    /// The authenticate process (`services: authenticate`), on 127.0.0.1.
    pub authenticate: Portcullis,
    /// Authorize replicas, the first on 127.0.0.2, the next on 127.0.0.3, ...
    pub authorize: Vec<Portcullis>,
    /// Databroker replicas on 127.0.0.2 and 127.0.0.3.
    pub databroker: Vec<Portcullis>,
    database: Database,
    postgres: Option<Arc<Postgres>>,
    /// The DNS server every process asks.
    pub dns: DnsServer,
    records: Mutex<Vec<(&'static str, IpAddr)>>,
    layout: Layout,
}

/// What the configuration files are made of.
#[derive(Debug, Clone)]
struct Layout {
    spec: Spec,
    dns: SocketAddr,
    database: String,
    authorize_port: u16,
    databroker_port: u16,
    authenticate_port: u16,
}

/// One process's role and where it listens.
#[derive(Debug, Clone, Copy)]
enum Role {
    Databroker(IpAddr),
    Authorize(IpAddr),
    Authenticate,
    Proxy,
}

/// The address of replica `n` (0-based): `127.0.0.2`, `127.0.0.3`, ...
pub fn replica_ip(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, 2 + n])
}

// === impl Spec ===

impl Default for Spec {
    /// No routes, plain HTTP, an IdP that is never asked, a 1 s DNS refresh.
    fn default() -> Spec {
        Spec {
            routes: String::new(),
            common: "authenticate_service_url: http://authenticate.example.test\n\
                     idp_provider: oidc\n\
                     idp_provider_url: http://127.0.0.1:9/\n\
                     idp_client_id: portcullis\n\
                     idp_client_secret: unused\n"
                .to_owned(),
            certificate: None,
            proxy: String::new(),
            own_postgres: false,
            dns_refresh_rate: Duration::from_secs(1),
        }
    }
}

// === impl Cluster ===

impl Cluster {
    /// Starts DNS, PostgreSQL, two databrokers, two authorize replicas, authenticate and the
    /// proxy, and returns once each has logged `started`. Blocking: call from
    /// `spawn_blocking` or `block_in_place` in async tests.
    pub fn start(spec: Spec) -> anyhow::Result<Cluster> {
        let (postgres, database) = if spec.own_postgres {
            let server = Arc::new(Postgres::start()?);
            let database = server.create_database()?;
            (Some(server), database)
        } else {
            (None, postgres::database()?)
        };
        let databroker_ips = [replica_ip(0), replica_ip(1)];
        let authorize_ips: Vec<IpAddr> = (0..AUTHORIZE_SLOTS).map(replica_ip).collect();
        let mut records = Vec::new();
        records.extend(databroker_ips.iter().map(|ip| (DATABROKER_NAME, *ip)));
        records.extend(authorize_ips[..2].iter().map(|ip| (AUTHORIZE_NAME, *ip)));
        records.push((AUTHENTICATE_NAME, IpAddr::from([127, 0, 0, 1])));
        let dns = DnsServer::start(&records)?;
        let mut layout = Layout {
            spec,
            dns: dns.addr(),
            database: database.connection_string().to_owned(),
            authorize_port: 0,
            databroker_port: 0,
            authenticate_port: 0,
        };
        // The ports are free on every address now; a process may lose one to another test
        // before it binds, so a group that fails to start is tried again on other ports.
        let databroker = retry_ports(&databroker_ips, |port| {
            layout.databroker_port = port;
            layout.start_all(&databroker_ips.map(Role::Databroker))
        })?;
        let authorize = retry_ports(&authorize_ips, |port| {
            layout.authorize_port = port;
            let roles: Vec<Role> = authorize_ips[..2]
                .iter()
                .map(|ip| Role::Authorize(*ip))
                .collect();
            layout.start_all(&roles)
        })?;
        // The proxy forwards the authenticate host to the port authenticate got.
        let authenticate = layout.start_one(Role::Authenticate)?;
        layout.authenticate_port = authenticate.address("authenticate").port();
        let proxy = layout.start_one(Role::Proxy)?;
        Ok(Cluster {
            proxy,
            authenticate,
            authorize,
            databroker,
            database,
            postgres,
            dns,
            records: Mutex::new(records),
            layout,
        })
    }

    /// The proxy's listener.
    pub fn proxy_address(&self) -> SocketAddr {
        self.proxy.address("proxy")
    }

    /// The authenticate process's listener (plain HTTP; browsers reach it through the proxy).
    pub fn authenticate_address(&self) -> SocketAddr {
        self.authenticate.address("authenticate")
    }

    /// `http://databroker.test:PORT`.
    pub fn databroker_url(&self) -> String {
        self.layout.databroker_url()
    }

    /// `http://authorize.test:PORT`.
    pub fn authorize_url(&self) -> String {
        self.layout.authorize_url()
    }

    /// The DNS options the processes use (for clients of the test itself).
    pub fn dns_options(&self) -> DnsOptions {
        DnsOptions {
            refresh_rate: self.layout.spec.dns_refresh_rate,
            resolvers: vec![self.dns.addr()],
        }
    }

    /// The cluster's PostgreSQL server, when it has one of its own ([`Spec::own_postgres`]).
    pub fn postgres(&self) -> Option<&Arc<Postgres>> {
        self.postgres.as_ref()
    }

    /// The database the databrokers share.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// A client of the databroker replicas through DNS, as the roles have. Call inside a
    /// tokio runtime.
    pub fn databroker_client(&self) -> anyhow::Result<portcullis_databroker::Client> {
        let secret = SharedSecret::from(SHARED_SECRET);
        Ok(portcullis_databroker::connect_with(
            &self.databroker_url(),
            &secret,
            &self.dns_options(),
        )?)
    }

    /// Writes a logged-in session for `email` (user `user-<name>`, groups `groups`) through
    /// the databroker, as authenticate does, and returns the `cookie` header value that
    /// carries it (the proxy's session cookie).
    pub async fn login(
        &self,
        databroker: &portcullis_databroker::Client,
        name: &str,
        email: &str,
        groups: &[&str],
    ) -> String {
        let now = std::time::SystemTime::now();
        let session = Session {
            id: format!("session-{name}"),
            user_id: format!("user-{name}"),
            issued_at: now,
            expires_at: now + Duration::from_secs(3600),
            refreshed_at: None,
            claims: serde_json::Map::new(),
            oauth_token: None,
            id_token: portcullis_proto::SecretString::new("unused"),
        };
        let user = User {
            id: session.user_id.clone(),
            email: email.to_owned(),
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            claims: serde_json::Map::new(),
        };
        let handle = crate::login::write_login(databroker, &session, &user).await;
        format!(
            "_portcullis={}",
            SessionHandleCodec::new(&COOKIE_SECRET).seal(&handle)
        )
    }

    /// How many decisions authorize replica `n` has logged.
    pub fn decisions(&self, n: usize) -> usize {
        self.authorize[n]
            .json_lines()
            .iter()
            .filter(|l| l["message"] == "decision")
            .count()
    }

    /// Starts another authorize replica (on the next loopback address, the same port) and,
    /// once it has started, adds it to `authorize.test`. Returns its index.
    pub fn add_authorize(&mut self) -> anyhow::Result<usize> {
        let n = self.authorize.len();
        anyhow::ensure!(
            n < usize::from(AUTHORIZE_SLOTS),
            "no port reserved for more"
        );
        let ip = replica_ip(u8::try_from(n)?);
        let replica = self.layout.start_one(Role::Authorize(ip))?;
        self.authorize.push(replica);
        let mut records = self.records.lock().expect("records lock");
        records.push((AUTHORIZE_NAME, ip));
        self.dns.set(&records)?;
        Ok(n)
    }

    /// Starts databroker replica `n` again (on its address and port) after it was stopped,
    /// and waits until it has started.
    pub fn restart_databroker(&mut self, n: usize) -> anyhow::Result<()> {
        let ip = replica_ip(u8::try_from(n)?);
        self.databroker[n] = self.layout.start_one(Role::Databroker(ip))?;
        Ok(())
    }

    /// Replaces the routes of every process: writes each one's configuration file and sends
    /// `SIGHUP`, authorize replicas first (so they know a route before the proxy sends
    /// requests for it), then authenticate and the proxy. Returns without waiting for the
    /// reloads to apply: tests wait for the effect they expect.
    pub fn set_routes(&mut self, routes: &str) -> anyhow::Result<()> {
        self.layout.spec.routes = routes.to_owned();
        let mut processes: Vec<(&Portcullis, Role)> = self
            .authorize
            .iter()
            .enumerate()
            .map(|(n, p)| (p, Role::Authorize(replica_ip(n as u8))))
            .collect();
        processes.push((&self.authenticate, Role::Authenticate));
        processes.push((&self.proxy, Role::Proxy));
        for (process, role) in processes {
            std::fs::write(process.config_file(), self.layout.config(role))?;
            process.hangup()?;
        }
        Ok(())
    }
}

// === impl Layout ===

impl Layout {
    fn databroker_url(&self) -> String {
        format!("http://{DATABROKER_NAME}:{}", self.databroker_port)
    }

    fn authorize_url(&self) -> String {
        format!("http://{AUTHORIZE_NAME}:{}", self.authorize_port)
    }

    fn start_one(&self, role: Role) -> anyhow::Result<Portcullis> {
        Portcullis::start(&self.config(role)).with_context(|| format!("starting {role:?}"))
    }

    /// Starts the processes in parallel; all or nothing.
    fn start_all(&self, roles: &[Role]) -> anyhow::Result<Vec<Portcullis>> {
        std::thread::scope(|scope| {
            let started: Vec<_> = roles
                .iter()
                .map(|role| scope.spawn(move || self.start_one(*role)))
                .collect();
            started
                .into_iter()
                .map(|s| s.join().expect("a start thread panicked"))
                .collect()
        })
    }

    /// The configuration file of `role`.
    fn config(&self, role: Role) -> String {
        let spec = &self.spec;
        let mut text = format!(
            "shared_secret: {SHARED_SECRET_B64}\n\
             cookie_secret: {COOKIE_SECRET_B64}\n\
             dns_resolvers: [\"{dns}\"]\n\
             dns_refresh_rate: {refresh}ms\n\
             grpc_insecure: true\n\
             {common}",
            dns = self.dns,
            refresh = spec.dns_refresh_rate.as_millis(),
            common = spec.common,
        );
        let databroker = self.databroker_url();
        let role_text = match role {
            Role::Databroker(ip) => format!(
                "services: databroker\n\
                 grpc_address: {ip}:{port}\n\
                 insecure_server: true\n\
                 databroker_storage_type: postgres\n\
                 databroker_storage_connection_string: {db}\n",
                port = self.databroker_port,
                db = self.database,
            ),
            Role::Authorize(ip) => format!(
                "services: authorize\n\
                 grpc_address: {ip}:{port}\n\
                 insecure_server: true\n\
                 databroker_service_url: {databroker}\n",
                port = self.authorize_port,
            ),
            Role::Authenticate => format!(
                "services: authenticate\n\
                 address: 127.0.0.1:{port}\n\
                 insecure_server: true\n\
                 databroker_service_url: {databroker}\n",
                port = self.authenticate_port,
            ),
            Role::Proxy => format!(
                "services: proxy\n\
                 address: 127.0.0.1:0\n\
                 authorize_service_url: {authorize}\n\
                 authenticate_internal_service_url: http://{AUTHENTICATE_NAME}:{authenticate}\n\
                 databroker_service_url: {databroker}\n\
                 {tls}\
                 {proxy}",
                authorize = self.authorize_url(),
                authenticate = self.authenticate_port,
                tls = match &spec.certificate {
                    Some((cert, key)) => format!(
                        "certificate_file: {}\ncertificate_key_file: {}\n",
                        cert.display(),
                        key.display()
                    ),
                    None => "insecure_server: true\n".to_owned(),
                },
                proxy = spec.proxy,
            ),
        };
        text.push_str(&role_text);
        if spec.routes.trim().is_empty() {
            text.push_str("routes: []\n");
        } else {
            text.push_str("routes:\n");
            text.push_str(&spec.routes);
        }
        text
    }
}

/// Picks a port free on every address of `ips` and runs `start` with it; tries other ports
/// when `start` fails because some process could not bind its port.
fn retry_ports<T>(
    ips: &[IpAddr],
    mut start: impl FnMut(u16) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut last = None;
    for _ in 0..3 {
        let port = {
            let listeners = bind_same_port(ips)?;
            listeners[0].local_addr()?.port()
        };
        match start(port) {
            Ok(started) => return Ok(started),
            Err(error) if format!("{error:#}").contains("cannot listen") => last = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no port to start on")))
}
