//! TLS to gRPC peers and health-driven rotation (design §7), against a real DNS server
//! (dnsmasq) and real gRPC servers on loopback aliases: the balancer connects to each
//! resolved address but verifies the certificate for the URL's host; every service URL
//! takes calls; a draining replica leaves the rotation before its port closes.

#[path = "grpc_dns/replica.rs"]
mod replica;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use portcullis_grpc::{AuthorizeClient, ClientAuth, DnsOptions, PeerOptions, PeerTls};
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer, envoy};
use portcullis_testing::dns::{DnsServer, bind_same_port};
use portcullis_testing::tls::TestCa;
use portcullis_testing::wait;
use replica::{Replica, secret};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const REFRESH: Duration = Duration::from_millis(200);

fn a() -> IpAddr {
    [127, 0, 0, 2].into()
}

fn b() -> IpAddr {
    [127, 0, 0, 3].into()
}

/// One replica per certificate, on `127.0.0.2`, `127.0.0.3`, ... sharing one port; a
/// replica without a certificate speaks h2c.
fn replicas(certs: Vec<Option<Arc<rustls::ServerConfig>>>) -> (Vec<Replica>, u16) {
    let ips: Vec<IpAddr> = [a(), b()].into_iter().take(certs.len()).collect();
    let listeners = bind_same_port(&ips).unwrap();
    let port = listeners[0].local_addr().unwrap().port();
    let replicas = listeners
        .into_iter()
        .zip(certs)
        .map(|(listener, tls)| Replica::start_with(listener, tls))
        .collect();
    (replicas, port)
}

fn options(dns: &DnsServer, tls: PeerTls) -> PeerOptions {
    PeerOptions {
        dns: DnsOptions {
            refresh_rate: REFRESH,
            resolvers: vec![dns.addr()],
        },
        tls,
    }
}

fn trusting(ca: &TestCa) -> PeerTls {
    PeerTls::with_certificate_authority(ca.cert_pem().as_bytes()).unwrap()
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

async fn allowed(client: &AuthorizeClient, path: &str) -> bool {
    matches!(
        client.authorize(&request(path)).await,
        AuthorizeDecision::Allow(_)
    )
}

/// The error a raw `Check` through a channel to `urls` ends with, causes included.
async fn check_error(urls: &[String], options: &PeerOptions) -> String {
    let channel = portcullis_grpc::connect_peers(urls, options).unwrap();
    let mut grpc =
        AuthorizationClient::with_interceptor(channel.channel(), ClientAuth::new(&secret()));
    let status = grpc
        .check(envoy::check_request(&request("/")))
        .await
        .expect_err("the call must fail");
    let mut text = format!("{status}");
    let mut source = std::error::Error::source(&status);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_peers_are_verified_for_the_url_host_at_every_address() {
    let ca = TestCa::new("grpc CA");
    // Valid for the name only: the balancer connects to 127.0.0.x, SNI and checks say the name.
    let tls = ca.leaf(&["authorize.test"]).server_config(&[b"h2"]);
    let (replicas, port) = replicas(vec![Some(Arc::clone(&tls)), Some(tls)]);
    let dns = DnsServer::start(&[("authorize.test", a()), ("authorize.test", b())]).unwrap();
    let url = format!("https://authorize.test:{port}");
    let client =
        AuthorizeClient::connect_peers(&[url], &secret(), &options(&dns, trusting(&ca))).unwrap();
    let mut failed = 0;
    for _ in 0..100 {
        failed += usize::from(!allowed(&client, "/").await);
    }
    assert_eq!(failed, 0, "dnsmasq: {}", dns.log());
    let (on_a, on_b) = (replicas[0].served(), replicas[1].served());
    assert_eq!(on_a + on_b, 100);
    assert!(on_a >= 20 && on_b >= 20, "unbalanced: {on_a} / {on_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_or_from_an_unknown_ca_is_refused() {
    let ca = TestCa::new("grpc CA");
    let wrong_name = ca.leaf(&["other.test"]).server_config(&[b"h2"]);
    let right_name = ca.leaf(&["authorize.test"]).server_config(&[b"h2"]);
    let (replicas, port) = replicas(vec![Some(wrong_name), Some(right_name)]);
    let dns = DnsServer::start(&[("wrong.authorize.test", a()), ("authorize.test", b())]).unwrap();

    // 127.0.0.2 presents a certificate for other.test under the trusted CA.
    let wrong = vec![format!("https://wrong.authorize.test:{port}")];
    let error = check_error(&wrong, &options(&dns, trusting(&ca))).await;
    assert!(
        error.contains("invalid peer certificate") && error.contains("wrong.authorize.test"),
        "{error}"
    );

    // 127.0.0.3's certificate is for the right name, but the client does not trust its CA.
    let right = vec![format!("https://authorize.test:{port}")];
    let stranger = TestCa::new("another CA");
    let error = check_error(&right, &options(&dns, trusting(&stranger))).await;
    assert!(
        error.contains("invalid peer certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );
    // An h2c client of a TLS listener gets nowhere either.
    let plain = vec![format!("http://authorize.test:{port}")];
    let client =
        AuthorizeClient::connect_peers(&plain, &secret(), &options(&dns, trusting(&ca))).unwrap();
    assert!(!allowed(&client, "/").await);
    assert_eq!(replicas[0].served() + replicas[1].served(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_url_takes_calls_each_verified_for_its_own_host() {
    let ca = TestCa::new("grpc CA");
    let for_a = ca.leaf(&["authorize-a.test"]).server_config(&[b"h2"]);
    let for_b = ca.leaf(&["authorize-b.test"]).server_config(&[b"h2"]);
    let (replicas, port) = replicas(vec![Some(for_a), Some(for_b)]);
    let dns = DnsServer::start(&[("authorize-a.test", a()), ("authorize-b.test", b())]).unwrap();
    let urls = [
        format!("https://authorize-a.test:{port}"),
        format!("https://authorize-b.test:{port}"),
    ];
    let client =
        AuthorizeClient::connect_peers(&urls, &secret(), &options(&dns, trusting(&ca))).unwrap();
    let mut failed = 0;
    for _ in 0..100 {
        failed += usize::from(!allowed(&client, "/").await);
    }
    assert_eq!(failed, 0, "dnsmasq: {}", dns.log());
    let (on_a, on_b) = (replicas[0].served(), replicas[1].served());
    assert!(on_a >= 20 && on_b >= 20, "unbalanced: {on_a} / {on_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_replica_leaves_rotation_before_its_port_closes() {
    let (mut replicas, port) = replicas(vec![None, None]);
    let dns = DnsServer::start(&[("authorize.test", a()), ("authorize.test", b())]).unwrap();
    let url = format!("http://authorize.test:{port}");
    let client =
        AuthorizeClient::connect_peers(&[url], &secret(), &options(&dns, PeerTls::default()))
            .unwrap();
    let a_addr = SocketAddr::new(a(), port);
    wait::until_async(Duration::from_secs(10), "both replicas in rotation", || {
        let client = client.clone();
        let served = (replicas[0].served(), replicas[1].served());
        async move {
            assert!(allowed(&client, "/").await);
            (served.0 > 0 && served.1 > 0).then_some(())
        }
    })
    .await
    .unwrap();

    // Someone else watches 127.0.0.2's health and never lets go: its drain notice then
    // lasts the whole limit, with the listener open.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{a_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut foreign = HealthClient::new(channel)
        .watch(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = foreign.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    // A slow call in flight on 127.0.0.2 when the drain begins.
    let direct = AuthorizeClient::connect(&format!("http://{a_addr}"), &secret()).unwrap();
    let before = replicas[0].served();
    let slow = tokio::spawn(async move { allowed(&direct, "/slow/1500").await });
    wait::until(Duration::from_secs(5), "the slow call to start", || {
        (replicas[0].served() > before).then_some(())
    })
    .unwrap();

    replicas[0].begin_shutdown();
    let began = Instant::now();
    let notice = foreign.message().await.unwrap().unwrap();
    assert_eq!(notice.status(), ServingStatus::NotServing);

    // Calls move to 127.0.0.3 while 127.0.0.2 still accepts connections.
    wait::until_async(Duration::from_secs(2), "calls to leave 127.0.0.2", || {
        let client = client.clone();
        let on_a = replicas[0].served();
        let replica_a = &replicas[0];
        async move {
            for _ in 0..20 {
                assert!(allowed(&client, "/").await);
            }
            (replica_a.served() == on_a).then_some(())
        }
    })
    .await
    .unwrap();
    let on_a = replicas[0].served();
    let mut failed = 0;
    let window = Instant::now();
    // Several refresh rounds: a replica that says NOT_SERVING does not come back.
    while window.elapsed() < 4 * REFRESH {
        failed += usize::from(!allowed(&client, "/").await);
    }
    assert_eq!(failed, 0);
    assert_eq!(
        replicas[0].served(),
        on_a,
        "a draining replica took new calls"
    );
    assert!(
        tokio::net::TcpStream::connect(a_addr).await.is_ok(),
        "the port closed before clients moved away ({:?} after the drain began)",
        began.elapsed()
    );
    assert!(!replicas[0].has_stopped());

    // The call in flight finished normally.
    assert!(slow.await.unwrap(), "the in-flight call failed");

    // Once the last watcher lets go, the listener closes.
    drop(foreign);
    wait::until(
        Duration::from_secs(3),
        "the drained replica to stop",
        || replicas[0].has_stopped().then_some(()),
    )
    .unwrap();
    assert!(
        began.elapsed() < portcullis_grpc::server::DRAIN_NOTICE_LIMIT + Duration::from_secs(1),
        "the drain waited for the limit instead of the watchers"
    );
    assert!(tokio::net::TcpStream::connect(a_addr).await.is_err());
    for _ in 0..20 {
        assert!(allowed(&client, "/").await);
    }
}
