//! The task behind [`connect_peers`](crate::connect_peers): DNS discovery, health checks and
//! endpoint ejection for a tonic balanced channel over every URL of a service.
//!
//! The channel is tonic's [`Channel::balance_channel`]; this task feeds it
//! [`Change::Insert`]/[`Change::Remove`] keyed by (URL, address). Each *round*:
//!
//! 1. resolves each URL's host to all of its A/AAAA records (keeping the last good set when
//!    DNS fails or answers nothing; IP literals need no DNS);
//! 2. health-checks (`grpc.health.v1` `Check`, over the URL's TLS settings) addresses not yet
//!    in rotation (and, in a round asked for by a failed call, every address), so an endpoint
//!    enters the rotation only once its server says `SERVING`;
//! 3. sends the difference to the balancer. Removing an endpoint drops the balancer's handle
//!    to its connection; calls already in flight on it still finish.
//!
//! Every endpoint in rotation is also *watched* (`Watch`, see [`probe::watch`]): when its
//! server turns `NOT_SERVING` (it began draining) or the watch connection breaks, the
//! endpoint leaves the rotation at once, before its listener closes.
//!
//! Rounds run every `dns_refresh_rate` and whenever a caller reports a failed call through
//! [`Failover`]. When no endpoint passes, all of them stay in rotation (calls fail fast with
//! `UNAVAILABLE` instead of waiting for an endpoint); while a host has never resolved, its
//! URL itself is an endpoint (the system resolver then tries on each connect).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use tokio::sync::mpsc::{self, Sender};
use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

mod probe;
mod target;

pub(crate) use target::Target;

/// How long [`Failover::recheck`] waits for the round it asked for.
const RECHECK_WAIT: Duration = Duration::from_secs(2);
/// Rounds asked for by failed calls re-resolve DNS at most this often.
const MIN_RESOLVE_GAP: Duration = Duration::from_millis(500);
/// The shortest refresh period accepted.
const MIN_REFRESH: Duration = Duration::from_millis(50);
/// Pending changes the balancer may hold before the task waits for it.
const CHANGE_CAPACITY: usize = 1024;

/// A balancer entry: an endpoint of one of the channel's URLs (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    /// One resolved address of URL `.0`.
    Addr(usize, SocketAddr),
    /// URL `.0` itself, while its host has not resolved yet.
    Unresolved(usize),
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

/// Starts the balanced channel over `targets` and the task that keeps its endpoints.
/// `resolver` is needed when a target's host is a name.
pub(crate) fn spawn(
    targets: Vec<Target>,
    resolver: Option<TokioResolver>,
    refresh: Duration,
) -> (Channel, Failover) {
    let (channel, changes) = Channel::balance_channel(CHANGE_CAPACITY);
    let (served, _) = watch::channel(0);
    let shared = Arc::new(Shared {
        requested: AtomicU64::new(0),
        wake: Notify::new(),
        served,
    });
    let resolved = targets
        .iter()
        .map(|t| t.literal().into_iter().collect())
        .collect();
    let (down_tx, down) = mpsc::unbounded_channel();
    let task = Task {
        targets,
        resolver,
        changes,
        shared: Arc::clone(&shared),
        resolved,
        active: BTreeSet::new(),
        watchers: BTreeMap::new(),
        down_tx,
        down,
        failing: BTreeMap::new(),
        last_resolve: None,
    };
    tokio::spawn(task.run(refresh.max(MIN_REFRESH)));
    let failover = Failover {
        shared: Some(shared),
    };
    (channel, failover)
}

struct Task {
    targets: Vec<Target>,
    resolver: Option<TokioResolver>,
    changes: Sender<Change<Key, Endpoint>>,
    shared: Arc<Shared>,
    /// The last good DNS answer of each target.
    resolved: Vec<BTreeSet<SocketAddr>>,
    /// What the balancer holds.
    active: BTreeSet<Key>,
    /// The health watcher of each endpoint in rotation.
    watchers: BTreeMap<Key, AbortHandle>,
    down_tx: mpsc::UnboundedSender<probe::Down<Key>>,
    down: mpsc::UnboundedReceiver<probe::Down<Key>>,
    /// Why endpoints failed their last probe (each reason is logged once).
    failing: BTreeMap<Key, String>,
    last_resolve: Option<Instant>,
}

/// The channel is gone.
struct Closed;

/// What wakes the task.
enum Event {
    Round(Round),
    Down(probe::Down<Key>),
}

impl Task {
    async fn run(mut self, refresh: Duration) {
        let mut timer = tokio::time::interval(refresh);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                _ = self.changes.closed() => break,
                _ = timer.tick() => Event::Round(Round::Periodic),
                _ = self.shared.wake.notified() => Event::Round(Round::Failure),
                Some(down) = self.down.recv() => Event::Down(down),
            };
            let done = match event {
                Event::Round(round) => self.round(round).await,
                Event::Down(down) => self.eject(down).await,
            };
            if done.is_err() {
                break;
            }
        }
        for (_, watcher) in std::mem::take(&mut self.watchers) {
            watcher.abort();
        }
        tracing::debug!(url = %self.targets[0].url, "balanced channel dropped; resolver task ends");
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

    /// A watched endpoint stopped serving: it leaves the rotation now, unless it is the
    /// last one (calls then fail fast rather than wait for an endpoint).
    async fn eject(&mut self, down: probe::Down<Key>) -> Result<(), Closed> {
        self.watchers.remove(&down.key);
        if self.active.contains(&down.key) && self.active.len() > 1 {
            let mut next = self.active.clone();
            next.remove(&down.key);
            self.apply(next).await?;
        }
        let _ = down.ack.send(());
        Ok(())
    }

    /// Updates `resolved` from DNS, keeping each host's last good answer on failure.
    async fn resolve(&mut self) {
        self.last_resolve = Some(Instant::now());
        let Some(resolver) = &self.resolver else {
            return;
        };
        // Answers are re-read on every round: the resolver's cache must not hide changes.
        resolver.clear_cache();
        for (target, resolved) in self.targets.iter().zip(&mut self.resolved) {
            if target.literal().is_some() {
                continue;
            }
            let host = target.host.as_str();
            match resolver.lookup_ip(host).await {
                Ok(lookup) => {
                    let found: BTreeSet<_> = lookup
                        .iter()
                        .map(|ip| SocketAddr::new(ip, target.port))
                        .collect();
                    if found.is_empty() {
                        tracing::warn!(
                            host,
                            "DNS answered no address; keeping the previous endpoints"
                        );
                    } else {
                        if found != *resolved {
                            tracing::info!(host, addresses = ?found, "service name resolved");
                        }
                        *resolved = found;
                    }
                }
                Err(error) => {
                    tracing::warn!(host, %error, "DNS resolution failed; keeping the previous endpoints");
                }
            }
        }
    }

    /// The endpoints the balancer should hold after this round.
    async fn next_active(&mut self, round: Round) -> BTreeSet<Key> {
        let mut candidates = BTreeSet::new();
        let mut unresolved = BTreeSet::new();
        for (i, resolved) in self.resolved.iter().enumerate() {
            if resolved.is_empty() {
                unresolved.insert(Key::Unresolved(i));
            }
            candidates.extend(resolved.iter().map(|a| Key::Addr(i, *a)));
        }
        let to_probe: Vec<Key> = match round {
            Round::Failure => candidates.iter().copied().collect(),
            Round::Periodic => candidates.difference(&self.active).copied().collect(),
        };
        let up = self.probe(to_probe).await;
        let mut next: BTreeSet<Key> = match round {
            Round::Failure => BTreeSet::new(),
            Round::Periodic => candidates.intersection(&self.active).copied().collect(),
        };
        next.extend(up);
        next.extend(unresolved.iter().copied());
        if next.is_empty() {
            // Nothing answers: keep every address so calls fail fast rather than wait.
            next = candidates;
        }
        next
    }

    /// The keys of `keys` whose server says it serves.
    async fn probe(&mut self, keys: Vec<Key>) -> Vec<Key> {
        let mut probes = JoinSet::new();
        for key in keys {
            let endpoint = self.endpoint(key);
            probes.spawn(async move { (key, probe::probe(endpoint).await) });
        }
        let mut up = Vec::new();
        while let Some(done) = probes.join_next().await {
            let Ok((key, result)) = done else { continue };
            match result {
                Ok(()) => {
                    self.failing.remove(&key);
                    up.push(key);
                }
                Err(error) => {
                    let error = error.to_string();
                    if self.failing.get(&key) != Some(&error) {
                        let url = self.url(key);
                        tracing::warn!(url, endpoint = ?key, %error, "endpoint failed its health check");
                    }
                    self.failing.insert(key, error);
                }
            }
        }
        up
    }

    /// Sends the balancer the difference between `active` and `next` (inserts first, so the
    /// balancer is never left empty in between) and keeps a watcher on each endpoint.
    async fn apply(&mut self, next: BTreeSet<Key>) -> Result<(), Closed> {
        for key in next.difference(&self.active) {
            tracing::info!(url = self.url(*key), endpoint = ?key, "endpoint enters rotation");
            let endpoint = self.endpoint(*key);
            self.send(Change::Insert(*key, endpoint)).await?;
        }
        for key in self.active.difference(&next) {
            tracing::info!(url = self.url(*key), endpoint = ?key, "endpoint leaves rotation");
            self.send(Change::Remove(*key)).await?;
        }
        self.active = next;
        self.watchers.retain(|key, watcher| {
            let keep = self.active.contains(key) && !watcher.is_finished();
            if !keep {
                watcher.abort();
            }
            keep
        });
        for key in &self.active {
            if matches!(key, Key::Addr(..)) && !self.watchers.contains_key(key) {
                let endpoint = self.endpoint(*key);
                let watcher = tokio::spawn(probe::watch(endpoint, *key, self.down_tx.clone()));
                self.watchers.insert(*key, watcher.abort_handle());
            }
        }
        Ok(())
    }

    async fn send(&self, change: Change<Key, Endpoint>) -> Result<(), Closed> {
        tokio::select! {
            sent = self.changes.send(change) => sent.map_err(|_| Closed),
            _ = self.changes.closed() => Err(Closed),
        }
    }

    fn endpoint(&self, key: Key) -> Endpoint {
        match key {
            Key::Addr(i, addr) => self.targets[i].at(addr),
            Key::Unresolved(i) => self.targets[i].whole(),
        }
    }

    fn url(&self, key: Key) -> &str {
        let (Key::Addr(i, _) | Key::Unresolved(i)) = key;
        &self.targets[i].url
    }
}
