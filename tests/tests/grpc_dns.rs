//! DNS-based client-side load balancing (design §7) against a real DNS server (dnsmasq)
//! mapping `authorize.test` to replicas on loopback aliases that share one port, with real
//! gRPC servers (Envoy `Check` behind service auth) and the proxy's real split-mode client.

#[path = "grpc_dns/replica.rs"]
mod replica;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use portcullis_grpc::{AuthorizeClient, ClientAuth, DnsOptions};
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer, envoy};
use portcullis_testing::dns::{DnsServer, bind_same_port};
use replica::{Replica, secret};

const NAME: &str = "authorize.test";
const REFRESH: Duration = Duration::from_millis(200);
/// What the tests allow beyond `REFRESH` for dnsmasq to re-read its file and for a busy
/// 2-core machine.
const SLACK: Duration = Duration::from_millis(500);

fn a() -> IpAddr {
    [127, 0, 0, 2].into()
}

fn b() -> IpAddr {
    [127, 0, 0, 3].into()
}

/// Replicas on `127.0.0.2` and `127.0.0.3` (same port) and a DNS server whose
/// `authorize.test` has the addresses `in_dns`.
fn cluster(in_dns: &[IpAddr]) -> (DnsServer, Vec<Replica>, u16) {
    let listeners = bind_same_port(&[a(), b()]).unwrap();
    let port = listeners[0].local_addr().unwrap().port();
    let replicas = listeners.into_iter().map(Replica::start).collect();
    let dns = DnsServer::start(&records(in_dns)).unwrap();
    (dns, replicas, port)
}

fn records(ips: &[IpAddr]) -> Vec<(&'static str, IpAddr)> {
    ips.iter().map(|ip| (NAME, *ip)).collect()
}

fn options(dns: &DnsServer) -> DnsOptions {
    DnsOptions {
        refresh_rate: REFRESH,
        resolvers: vec![dns.addr()],
    }
}

fn url(port: u16) -> String {
    format!("http://{NAME}:{port}")
}

fn client(dns: &DnsServer, port: u16) -> AuthorizeClient {
    AuthorizeClient::connect_with(&url(port), &secret(), &options(dns)).unwrap()
}

fn request(path: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        method: "GET".into(),
        scheme: "https".into(),
        host: "app.example.com".into(),
        path: path.into(),
        ..AuthorizeRequest::default()
    }
}

/// One `Check` through the proxy's client; `true` when it answered (an allow).
async fn allowed(client: &AuthorizeClient) -> bool {
    matches!(
        client.authorize(&request("/")).await,
        AuthorizeDecision::Allow(_)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_every_address_of_the_name() {
    let (dns, replicas, port) = cluster(&[a(), b()]);
    let client = client(&dns, port);
    let mut failed = 0;
    for _ in 0..400 {
        failed += usize::from(!allowed(&client).await);
    }
    assert_eq!(failed, 0, "dnsmasq: {}", dns.log());
    let (on_a, on_b) = (replicas[0].served(), replicas[1].served());
    assert_eq!(on_a + on_b, 400);
    assert!(on_a >= 100 && on_b >= 100, "unbalanced: {on_a} / {on_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_changes_enter_and_leave_rotation_within_the_refresh_rate() {
    let (dns, replicas, port) = cluster(&[a()]);
    let client = client(&dns, port);
    let mut failed = 0;
    for _ in 0..50 {
        failed += usize::from(!allowed(&client).await);
    }
    assert_eq!(replicas[1].served(), 0, "127.0.0.3 is not in DNS yet");

    // Added to DNS: in rotation within the refresh rate.
    dns.set(&records(&[a(), b()])).unwrap();
    let added = Instant::now();
    while replicas[1].served() == 0 {
        assert!(
            added.elapsed() < REFRESH + SLACK,
            "127.0.0.3 never entered rotation"
        );
        failed += usize::from(!allowed(&client).await);
    }
    let entered = added.elapsed();

    // Removed from DNS: out of rotation within the refresh rate.
    dns.set(&records(&[b()])).unwrap();
    let removed = Instant::now();
    let (mut on_a, mut last_on_a) = (replicas[0].served(), Duration::ZERO);
    while removed.elapsed() < 3 * REFRESH + SLACK {
        failed += usize::from(!allowed(&client).await);
        if replicas[0].served() != on_a {
            on_a = replicas[0].served();
            last_on_a = removed.elapsed();
        }
    }
    assert!(
        last_on_a < REFRESH + SLACK,
        "127.0.0.2 still served {last_on_a:?} after leaving DNS"
    );
    assert_eq!(failed, 0, "calls failed while endpoints changed");
    eprintln!("entered rotation after {entered:?}; last call on the removed one {last_on_a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_replica_under_load_fails_no_check_and_a_restart_rejoins() {
    let (dns, mut replicas, port) = cluster(&[a(), b()]);
    let client = client(&dns, port);
    let results = Arc::new(Mutex::new(Vec::<(Instant, bool)>::new()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (client, results, stop) = (client.clone(), Arc::clone(&results), stop.clone());
        workers.push(tokio::spawn(async move {
            while !*stop.borrow() {
                let ok = allowed(&client).await;
                results.lock().unwrap().push((Instant::now(), ok));
            }
        }));
    }
    let serving = Instant::now() + Duration::from_secs(5);
    while replicas[0].served() == 0 || replicas[1].served() == 0 {
        assert!(
            Instant::now() < serving,
            "both replicas serve before the kill"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replicas[1].kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The same address comes back: in rotation again within the refresh rate.
    let deadline = Instant::now() + Duration::from_secs(5);
    let listener = loop {
        match std::net::TcpListener::bind((b(), port)) {
            Ok(listener) => break listener,
            Err(error) if Instant::now() > deadline => panic!("cannot rebind: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    replicas[1] = Replica::start(listener);
    let restarted = Instant::now();
    while replicas[1].served() == 0 {
        assert!(
            restarted.elapsed() < REFRESH + SLACK,
            "restarted replica never rejoined"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rejoined = restarted.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_tx.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }

    let results = results.lock().unwrap();
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    assert!(results.len() > 500, "too little load: {}", results.len());
    assert!(
        failed * 1000 <= results.len(),
        "{failed} of {} checks failed",
        results.len()
    );
    // Traffic recovers: no gap of a second without answers after the kill.
    let mut answered: Vec<Instant> = results
        .iter()
        .filter(|(at, ok)| *ok && *at >= killed)
        .map(|(at, _)| *at)
        .collect();
    answered.sort();
    let gap = answered
        .windows(2)
        .map(|w| w[1] - w[0])
        .chain(answered.first().map(|first| *first - killed))
        .max()
        .unwrap();
    assert!(
        gap < Duration::from_secs(1),
        "no answer for {gap:?} after the kill"
    );
    eprintln!(
        "{} checks, {failed} failed, longest pause {gap:?}, rejoined after {rejoined:?}",
        results.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_lands_on_a_dead_replica_is_retried_on_another() {
    let (dns, mut replicas, port) = cluster(&[a(), b()]);
    let client = client(&dns, port);
    while replicas[1].served() == 0 {
        assert!(allowed(&client).await);
    }
    // Dead, but still in DNS and in rotation: no call has failed yet to tell the channel.
    replicas[1].kill();
    // Without the retry, the first of these to land on 127.0.0.3 would fail (p = 1 - 2^-20).
    for n in 0..20 {
        assert!(allowed(&client).await, "check {n} failed after the kill");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_endpoint_lets_calls_in_flight_finish() {
    let (dns, replicas, port) = cluster(&[a(), b()]);
    let balanced = portcullis_grpc::connect_balanced(&url(port), &options(&dns)).unwrap();
    // The raw tonic client: no retry that could hide a call cut short.
    let raw = AuthorizationClient::with_interceptor(balanced.channel(), ClientAuth::new(&secret()));
    // Both endpoints in rotation first (each enters after its health check): fast calls
    // until each replica has answered one.
    let fast = envoy::check_request(&request("/"));
    let started = Instant::now();
    while replicas[0].served() == 0 || replicas[1].served() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "both endpoints never entered rotation"
        );
        raw.clone().check(fast.clone()).await.unwrap();
    }
    let base = (replicas[0].served(), replicas[1].served());
    let slow = envoy::check_request(&request("/slow/3000"));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (mut raw, slow) = (raw.clone(), slow.clone());
            tokio::spawn(async move { raw.check(slow).await })
        })
        .collect();
    let started = Instant::now();
    while replicas[0].served() + replicas[1].served() < base.0 + base.1 + 20 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "slow calls did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight_on_b = replicas[1].served() - base.1;
    assert!(in_flight_on_b > 0, "no slow call landed on 127.0.0.3");

    dns.set(&records(&[a()])).unwrap();
    let removed = Instant::now();
    let mut quiet = 0;
    while quiet < 30 {
        assert!(
            removed.elapsed() < REFRESH + SLACK,
            "127.0.0.3 never left rotation"
        );
        let before = replicas[1].served();
        raw.clone().check(fast.clone()).await.unwrap();
        quiet = if replicas[1].served() == before {
            quiet + 1
        } else {
            0
        };
    }
    assert!(
        replicas[1].finished() < replicas[1].served(),
        "the slow calls should still be in flight when 127.0.0.3 leaves rotation"
    );
    for call in calls {
        let answer = call.await.unwrap();
        assert!(answer.is_ok(), "a call in flight failed: {answer:?}");
    }
    assert_eq!(replicas[1].finished(), replicas[1].served());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failures_keep_the_last_good_endpoints() {
    let (dns, replicas, port) = cluster(&[a(), b()]);
    let client = client(&dns, port);
    let mut failed = 0;
    for _ in 0..50 {
        failed += usize::from(!allowed(&client).await);
    }
    // The name vanishes, then the DNS server itself: both replicas keep serving.
    dns.set(&[]).unwrap();
    let served = |r: &[Replica]| (r[0].served(), r[1].served());
    for phase in ["empty answer", "server gone"] {
        let before = served(&replicas);
        let until = Instant::now() + 3 * REFRESH + SLACK;
        while Instant::now() < until {
            failed += usize::from(!allowed(&client).await);
        }
        let after = served(&replicas);
        assert!(
            after.0 > before.0 && after.1 > before.1,
            "{phase}: an endpoint left rotation ({before:?} -> {after:?})"
        );
        if phase == "empty answer" {
            dns.pause().unwrap();
        }
    }
    assert_eq!(failed, 0);
    drop(dns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_databroker_client_follows_dns_too() {
    use portcullis_databroker::{Data, RecordWrite, Storage, StorageOptions};
    let listener = bind_same_port(&[a()]).unwrap().remove(0);
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let storage = portcullis_databroker::open_storage(&StorageOptions::Memory)
        .await
        .unwrap();
    let server = tokio::spawn(async move {
        let never = std::future::pending::<()>();
        portcullis_databroker::serve_storage(storage, &secret(), listener, never).await
    });
    let dns = DnsServer::start(&[("databroker.test", a())]).unwrap();
    let url = format!("http://databroker.test:{port}");
    let client = portcullis_databroker::connect_with(&url, &secret(), &options(&dns)).unwrap();
    let write = RecordWrite {
        kind: "example".into(),
        id: "one".into(),
        data: Data {
            type_url: "type.googleapis.com/example".into(),
            value: b"hello".to_vec(),
        },
        delete: false,
    };
    client.put(vec![write]).await.unwrap();
    let record = client.get("example", "one").await.unwrap().unwrap();
    assert_eq!(record.data.value, b"hello");
    server.abort();
}
