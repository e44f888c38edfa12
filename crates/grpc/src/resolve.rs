//! Every address of a host, kept fresh: the same DNS settings and rules as the gRPC
//! balancer (`dns_resolvers`, re-resolved every `dns_refresh_rate`, the last good answer
//! kept when DNS fails or answers nothing), for clients that balance on their own (the
//! proxy forwarding the authenticate host to its replicas).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::watch;

use crate::{ChannelError, DnsOptions};

/// The current addresses of a host; empty until DNS first answers.
pub type Addresses = watch::Receiver<Arc<Vec<SocketAddr>>>;

/// Resolves `host` (port `port`) now and every `options.refresh_rate`; an IP literal is its
/// own one address. Must be called inside a tokio runtime; the task ends when every
/// receiver is dropped.
pub fn watch_addresses(
    host: &str,
    port: u16,
    options: &DnsOptions,
) -> Result<Addresses, ChannelError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        let (_, addresses) = watch::channel(Arc::new(vec![SocketAddr::new(ip, port)]));
        return Ok(addresses);
    }
    let resolver = crate::balance::resolver(options).map_err(|source| ChannelError::Resolver {
        url: host.to_owned(),
        source,
    })?;
    let (tx, addresses) = watch::channel(Arc::new(Vec::new()));
    let host = host.to_owned();
    let refresh = options
        .refresh_rate
        .max(std::time::Duration::from_millis(50));
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(refresh);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = tx.closed() => break,
                _ = timer.tick() => {}
            }
            resolver.clear_cache();
            match resolver.lookup_ip(host.as_str()).await {
                Ok(lookup) => {
                    let mut found: Vec<_> =
                        lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                    found.sort();
                    found.dedup();
                    if found.is_empty() {
                        tracing::warn!(host, "DNS answered no address; keeping the previous ones");
                    } else if **tx.borrow() != found {
                        tracing::info!(host, addresses = ?found, "service name resolved");
                        tx.send_replace(Arc::new(found));
                    }
                }
                Err(error) => {
                    tracing::warn!(host, %error, "DNS resolution failed; keeping the previous addresses");
                }
            }
        }
    });
    Ok(addresses)
}
