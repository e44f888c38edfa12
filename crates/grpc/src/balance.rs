//! The task behind [`connect_balanced`](crate::connect_balanced): DNS discovery and endpoint
//! ejection for a tonic balanced channel.
//!
//! The channel is tonic's [`Channel::balance_channel`]; this task feeds it
//! [`Change::Insert`]/[`Change::Remove`] keyed by address. Each *round*:
//!
//! 1. resolves the host to all of its A/AAAA records (keeping the last good set when DNS
//!    fails or answers nothing);
//! 2. TCP-probes addresses not yet in rotation (and, in a round asked for by a failed call,
//!    every address), so an endpoint enters the rotation only once it accepts connections
//!    and leaves it as soon as it refuses them;
//! 3. sends the difference to the balancer. Removing an endpoint drops the balancer's handle
//!    to its connection; calls already in flight on it still finish.
//!
//! Rounds run every `dns_refresh_rate` and whenever a caller reports a failed call through
//! [`Failover`]. When no address answers a probe, all of them stay in rotation (calls fail
//! fast with `UNAVAILABLE` instead of waiting for an endpoint); when DNS has never answered,
//! the URL itself is the one endpoint (the system resolver then tries on each connect).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Sender;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint, Uri};

/// How long a probe's TCP connect may take before the address counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long [`Failover::recheck`] waits for the round it asked for.
const RECHECK_WAIT: Duration = Duration::from_secs(2);
/// Rounds asked for by failed calls re-resolve DNS at most this often.
const MIN_RESOLVE_GAP: Duration = Duration::from_millis(500);
/// The shortest refresh period accepted.
const MIN_REFRESH: Duration = Duration::from_millis(50);
/// Pending changes the balancer may hold before the task waits for it.
const CHANGE_CAPACITY: usize = 1024;

/// What the channel points at.
#[derive(Debug)]
pub(crate) struct Target {
    /// The URL as configured (for logs).
    pub(crate) url: String,
    /// The host to resolve.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) scheme: String,
    /// `scheme://authority/` of the URL: the `:authority` (and TLS name) of every call.
    pub(crate) origin: Uri,
    /// The URL as one endpoint, used until DNS first answers.
    pub(crate) whole: Endpoint,
}

/// A balancer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    /// One resolved address.
    Addr(SocketAddr),
    /// The URL itself, while DNS has not answered yet.
    Unresolved,
}

/// Why a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// The refresh timer.
    Periodic,
    /// A caller saw a call fail.
    Failure,
}

/// Lets callers of a balanced channel report failed calls: the next round probes every
/// endpoint and takes unreachable ones out of rotation, so a retry lands elsewhere.
/// Cheap to clone. [`Failover::none`] (for channels without DNS balancing) does nothing.
#[derive(Debug, Clone, Default)]
pub struct Failover {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    /// Tickets handed out to callers asking for a round.
    requested: AtomicU64,
    /// Wakes the task.
    wake: Notify,
    /// The highest ticket a completed round has served.
    served: watch::Sender<u64>,
}

impl Failover {
    /// A handle that does nothing: the channel has a single, fixed endpoint.
    pub fn none() -> Failover {
        Failover { shared: None }
    }

    /// Whether this handle belongs to a DNS-balanced channel.
    pub fn is_balanced(&self) -> bool {
        self.shared.is_some()
    }

    /// Reports a failed call without waiting: re-resolve and probe soon.
    pub fn report(&self) {
        if let Some(shared) = &self.shared {
            shared.requested.fetch_add(1, Ordering::SeqCst);
            shared.wake.notify_one();
        }
    }

    /// Reports a failed call and waits (at most 2 s) until a round that started after the
    /// report has updated the rotation: a retry issued afterwards avoids endpoints that
    /// refuse connections.
    pub async fn recheck(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        let ticket = shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut served = shared.served.subscribe();
        shared.wake.notify_one();
        let _ = tokio::time::timeout(RECHECK_WAIT, served.wait_for(|s| *s >= ticket)).await;
    }
}

/// The resolver for `options`: the given servers (UDP, then TCP on truncation), or the
/// system configuration when there are none.
pub(crate) fn resolver(options: &crate::DnsOptions) -> Result<TokioResolver, NetError> {
    let mut builder = if options.resolvers.is_empty() {
        TokioResolver::builder_tokio()?
    } else {
        let servers = options.resolvers.iter().map(|server| {
            let mut udp = ConnectionConfig::udp();
            udp.port = server.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = server.port();
            NameServerConfig::new(server.ip(), true, vec![udp, tcp])
        });
        let config = ResolverConfig::from_name_servers(servers.collect());
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = ResolverOpts::default();
        builder
    };
    let opts = builder.options_mut();
    opts.timeout = Duration::from_secs(2);
    opts.try_tcp_on_error = true;
    builder.build()
}

/// Starts the balanced channel for `target` and the task that keeps its endpoints.
pub(crate) fn spawn(
    target: Target,
    resolver: TokioResolver,
    refresh: Duration,
) -> (Channel, Failover) {
    let (channel, changes) = Channel::balance_channel(CHANGE_CAPACITY);
    let (served, _) = watch::channel(0);
    let shared = Arc::new(Shared {
        requested: AtomicU64::new(0),
        wake: Notify::new(),
        served,
    });
    let task = Task {
        target,
        resolver,
        changes,
        shared: Arc::clone(&shared),
        resolved: BTreeSet::new(),
        active: BTreeSet::new(),
        last_resolve: None,
    };
    tokio::spawn(task.run(refresh.max(MIN_REFRESH)));
    let failover = Failover {
        shared: Some(shared),
    };
    (channel, failover)
}

struct Task {
    target: Target,
    resolver: TokioResolver,
    changes: Sender<Change<Key, Endpoint>>,
    shared: Arc<Shared>,
    /// The last good DNS answer.
    resolved: BTreeSet<SocketAddr>,
    /// What the balancer holds.
    active: BTreeSet<Key>,
    last_resolve: Option<Instant>,
}

/// The channel is gone.
struct Closed;

impl Task {
    async fn run(mut self, refresh: Duration) {
        let mut timer = tokio::time::interval(refresh);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let round = tokio::select! {
                _ = self.changes.closed() => break,
                _ = timer.tick() => Round::Periodic,
                _ = self.shared.wake.notified() => Round::Failure,
            };
            if self.round(round).await.is_err() {
                break;
            }
        }
        tracing::debug!(url = %self.target.url, "balanced channel dropped; resolver task ends");
    }

    async fn round(&mut self, round: Round) -> Result<(), Closed> {
        let ticket = self.shared.requested.load(Ordering::SeqCst);
        let stale = self
            .last_resolve
            .is_none_or(|at| at.elapsed() >= MIN_RESOLVE_GAP);
        if round == Round::Periodic || stale {
            self.resolve().await;
        }
        let next = self.next_active(round).await;
        self.apply(next).await?;
        self.shared.served.send_replace(ticket);
        Ok(())
    }

    /// Updates `resolved` from DNS, keeping the last good answer on failure.
    async fn resolve(&mut self) {
        self.last_resolve = Some(Instant::now());
        // Answers are re-read on every round: the resolver's cache must not hide changes.
        self.resolver.clear_cache();
        let host = self.target.host.as_str();
        match self.resolver.lookup_ip(host).await {
            Ok(lookup) => {
                let port = self.target.port;
                let found: BTreeSet<_> =
                    lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                if found.is_empty() {
                    tracing::warn!(
                        host,
                        "DNS answered no address; keeping the previous endpoints"
                    );
                } else {
                    if found != self.resolved {
                        tracing::info!(host, addresses = ?found, "service name resolved");
                    }
                    self.resolved = found;
                }
            }
            Err(error) => {
                tracing::warn!(host, %error, "DNS resolution failed; keeping the previous endpoints");
            }
        }
    }

    /// The endpoints the balancer should hold after this round.
    async fn next_active(&self, round: Round) -> BTreeSet<Key> {
        if self.resolved.is_empty() {
            return BTreeSet::from([Key::Unresolved]);
        }
        let in_rotation = |addr: &SocketAddr| self.active.contains(&Key::Addr(*addr));
        let to_probe: Vec<SocketAddr> = match round {
            Round::Failure => self.resolved.iter().copied().collect(),
            Round::Periodic => self
                .resolved
                .iter()
                .copied()
                .filter(|a| !in_rotation(a))
                .collect(),
        };
        let up = probe(to_probe).await;
        let mut next: BTreeSet<Key> = match round {
            Round::Failure => BTreeSet::new(),
            Round::Periodic => self
                .resolved
                .iter()
                .filter(|a| in_rotation(a))
                .map(|a| Key::Addr(*a))
                .collect(),
        };
        next.extend(up.into_iter().map(Key::Addr));
        if next.is_empty() {
            // Nothing answers: keep every address so calls fail fast rather than wait.
            next = self.resolved.iter().map(|a| Key::Addr(*a)).collect();
        }
        next
    }

    /// Sends the balancer the difference between `active` and `next`: inserts first, so the
    /// balancer is never left empty in between.
    async fn apply(&mut self, next: BTreeSet<Key>) -> Result<(), Closed> {
        let host = self.target.host.as_str();
        for key in next.difference(&self.active) {
            tracing::info!(host, endpoint = ?key, "endpoint enters rotation");
            let endpoint = self.endpoint(*key);
            self.send(Change::Insert(*key, endpoint)).await?;
        }
        for key in self.active.difference(&next) {
            tracing::info!(host, endpoint = ?key, "endpoint leaves rotation");
            self.send(Change::Remove(*key)).await?;
        }
        self.active = next;
        Ok(())
    }

    async fn send(&self, change: Change<Key, Endpoint>) -> Result<(), Closed> {
        tokio::select! {
            sent = self.changes.send(change) => sent.map_err(|_| Closed),
            _ = self.changes.closed() => Err(Closed),
        }
    }

    fn endpoint(&self, key: Key) -> Endpoint {
        let Key::Addr(addr) = key else {
            return self.target.whole.clone();
        };
        let uri = format!("{}://{addr}", self.target.scheme);
        match Endpoint::from_shared(uri) {
            Ok(endpoint) => crate::channel::configure(endpoint).origin(self.target.origin.clone()),
            // A scheme and a socket address always make a URI; never reached.
            Err(_) => self.target.whole.clone(),
        }
    }
}

/// The addresses of `addrs` that accept a TCP connection within [`PROBE_TIMEOUT`].
async fn probe(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut probes = JoinSet::new();
    for addr in addrs {
        probes.spawn(async move {
            let connect = tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(addr)).await;
            match connect {
                Ok(Ok(_)) => Some(addr),
                Ok(Err(error)) => {
                    tracing::debug!(%addr, %error, "endpoint probe failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%addr, "endpoint probe timed out");
                    None
                }
            }
        });
    }
    let mut up = Vec::new();
    while let Some(done) = probes.join_next().await {
        if let Ok(Some(addr)) = done {
            up.push(addr);
        }
    }
    up
}
