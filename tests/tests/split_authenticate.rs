//! Authenticate behind the proxy in split mode (issue #12, item 5), with real processes: a
//! databroker and an authorize speaking gRPC over TLS (certificates for their DNS names
//! from a private CA, `https://` service URLs, `certificate_authority_file`), two
//! authenticate replicas behind one DNS name (`authenticate_internal_service_url`), a split
//! proxy, dnsmasq and the real OpenID provider. The client talks to the proxy and the IdP
//! only: the proxy recognizes the authenticate host and forwards it, and the login ends with
//! the upstream receiving the identity JWT.

#[path = "authenticate/support.rs"]
mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use portcullis_testing::dns::{DnsServer, bind_same_port};
use portcullis_testing::oidc::{Client, OidcProvider};
use portcullis_testing::process::Portcullis;
use portcullis_testing::tls::TestCa;
use portcullis_testing::upstream::EchoUpstream;
use reqwest::StatusCode;
use support::{COOKIE_SECRET_B64, Hop, SHARED_SECRET_B64};
use url::Url;

const AUTH_HOST: &str = "authenticate.example.test";
const APP_HOST: &str = "app.example.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A port free on every address of `ips` now.
fn free_port(ips: &[IpAddr]) -> u16 {
    bind_same_port(ips).unwrap()[0].local_addr().unwrap().port()
}

/// The running cluster.
struct Split {
    proxy: Portcullis,
    authenticate: Vec<Portcullis>,
    _grpc: Vec<Portcullis>,
    _dns: DnsServer,
    _certs: tempfile::TempDir,
    /// `http://authenticate.example.test:PORT` (the proxy's port).
    public: Url,
    /// `http://app.example.test:PORT/`.
    app: Url,
}

fn start(idp: &OidcProvider, upstream: &EchoUpstream, proxy_port: u16) -> Split {
    let grpc_port = free_port(&[ip(2)]);
    let (databroker_port, authorize_port) = (grpc_port, free_port(&[ip(3)]));
    let auth_port = free_port(&[ip(2), ip(3)]);
    let dns = DnsServer::start(&[
        ("databroker.test", ip(2)),
        ("authorize.test", ip(3)),
        ("authenticate.internal", ip(2)),
        ("authenticate.internal", ip(3)),
    ])
    .unwrap();
    let ca = TestCa::new("portcullis gRPC CA");
    let certs = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(certs.path()).unwrap();
    let (cert, key) = ca
        .leaf(&["databroker.test", "authorize.test"])
        .write_pem(certs.path(), "grpc")
        .unwrap();
    let public = Url::parse(&format!("http://{AUTH_HOST}:{proxy_port}")).unwrap();
    let app = Url::parse(&format!("http://{APP_HOST}:{proxy_port}/")).unwrap();
    let common = format!(
        "shared_secret: {SHARED_SECRET_B64}\n\
         cookie_secret: {COOKIE_SECRET_B64}\n\
         cookie_secure: false\n\
         dns_resolvers: [\"{dns}\"]\n\
         dns_refresh_rate: 500ms\n\
         certificate_authority_file: {ca}\n\
         authenticate_service_url: {public}\n\
         databroker_service_url: https://databroker.test:{databroker_port}\n\
         idp_provider: oidc\n\
         idp_provider_url: {issuer}\n\
         idp_client_id: portcullis\n\
         idp_client_secret: idp-secret\n\
         idp_scopes: [openid, profile, email, groups]\n\
         routes:\n\
         \x20 - from: http://{APP_HOST}:{proxy_port}\n\
         \x20   to: {upstream}\n\
         \x20   pass_identity_headers: true\n\
         \x20   policy:\n\
         \x20     - allow:\n\
         \x20         and:\n\
         \x20           - email: {{is: alice@example.com}}\n",
        dns = dns.addr(),
        ca = ca_file.display(),
        issuer = idp.issuer(),
        upstream = upstream.url(),
    );
    let tls = format!(
        "certificate_file: {}\ncertificate_key_file: {}\n",
        cert.display(),
        key.display()
    );
    let databroker = Portcullis::start(&format!(
        "services: databroker\ngrpc_address: {}:{databroker_port}\n{tls}{common}",
        ip(2)
    ))
    .unwrap();
    let authorize = Portcullis::start(&format!(
        "services: authorize\ngrpc_address: {}:{authorize_port}\n{tls}{common}",
        ip(3)
    ))
    .unwrap();
    for grpc in [&databroker, &authorize] {
        assert!(
            grpc.json_lines()
                .iter()
                .any(|l| l["message"] == "gRPC listener ready" && l["tls"] == true),
            "the gRPC listener serves TLS"
        );
    }
    let authenticate = [ip(2), ip(3)]
        .iter()
        .map(|ip| {
            Portcullis::start(&format!(
                "services: authenticate\naddress: {ip}:{auth_port}\ninsecure_server: true\n{common}"
            ))
            .unwrap()
        })
        .collect();
    let proxy = Portcullis::start(&format!(
        "services: proxy\n\
         address: 127.0.0.1:{proxy_port}\n\
         insecure_server: true\n\
         authorize_service_url: https://authorize.test:{authorize_port}\n\
         authenticate_internal_service_url: http://authenticate.internal:{auth_port}\n\
         {common}"
    ))
    .unwrap();
    Split {
        proxy,
        authenticate,
        _grpc: vec![databroker, authorize],
        _dns: dns,
        _certs: certs,
        public,
        app,
    }
}

/// A browser that reaches both public hosts at the proxy only, keeps cookies, and does
/// not follow redirects.
fn browser(proxy: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(AUTH_HOST, proxy)
        .resolve(APP_HOST, proxy)
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("text/html"),
        )]))
        .build()
        .unwrap()
}

/// Follows redirects from `start`, filling in the IdP's login and consent forms, until the
/// answer is no redirect; returns every hop.
async fn walk(browser: &reqwest::Client, start: &Url, login: &str) -> Vec<Hop> {
    let mut hops = vec![support::get(browser, start).await];
    for _ in 0..20 {
        let last = hops.last().unwrap();
        let next = match (&last.location, last.status) {
            (Some(location), _) => support::get(browser, location).await,
            (None, StatusCode::OK) if last.body.contains("<form") => {
                let extra: &[(&str, &str)] = if last.body.contains("name=\"login\"") {
                    &[("login", login), ("password", "any")]
                } else {
                    &[]
                };
                support::submit(browser, last, extra).await
            }
            _ => return hops,
        };
        hops.push(next);
    }
    panic!("the login did not end in 20 hops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_through_the_proxy_reaches_the_authenticate_replicas() {
    let proxy_port = free_port(&[ip(1)]);
    let public = format!("http://{AUTH_HOST}:{proxy_port}");
    let idp = tokio::task::spawn_blocking(move || {
        OidcProvider::start(
            &[Client {
                id: "portcullis".into(),
                secret: "idp-secret".into(),
                redirect_uris: vec![format!("{public}/oauth2/callback")],
                post_logout_redirect_uris: vec![format!("{public}/.portcullis/signed_out")],
            }],
            &[("alice", &["staff"])],
        )
    })
    .await
    .unwrap()
    .expect("the OpenID provider starts (run scripts/setup)");
    let upstream = EchoUpstream::start("app").await.unwrap();
    let split = tokio::task::block_in_place(|| start(&idp, &upstream, proxy_port));
    let proxy = split.proxy.address("proxy");
    let browser = browser(proxy);

    let start = split.app.join("/hello?x=1").unwrap();
    let hops = walk(&browser, &start, "alice").await;
    let visited: Vec<String> = hops
        .iter()
        .map(|h| format!("{} {}", h.status, h.url))
        .collect();
    let last = hops.last().unwrap();
    assert_eq!(last.status, StatusCode::OK, "{visited:#?}\n{last:?}");
    assert_eq!(last.url, start, "{visited:#?}");

    // Every authenticate hop went to the proxy's address (the authenticate host), and the
    // rest to the IdP: the client never saw an authenticate replica.
    let idp_origin = Url::parse(idp.issuer()).unwrap().origin();
    for hop in &hops {
        let origin = hop.url.origin();
        assert!(
            origin == split.public.origin() || origin == split.app.origin() || origin == idp_origin,
            "{} is neither the proxy nor the IdP",
            hop.url
        );
    }
    let callback = hops
        .iter()
        .find(|h| h.url.path() == "/oauth2/callback")
        .expect("the IdP sent the browser to the public callback");
    assert_eq!(callback.url.origin(), split.public.origin());
    assert_eq!(callback.status, StatusCode::FOUND, "{callback:?}");

    // The upstream got the request with the identity JWT; the proxy forwarded the
    // authenticate host with its Host and X-Forwarded-* kept.
    let received = upstream.received();
    let request = received
        .iter()
        .find(|r| r.path == "/hello?x=1")
        .expect("the upstream received the original request");
    let jwt = request
        .header("x-portcullis-jwt-assertion")
        .expect("the identity JWT");
    let claims = jwt.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["email"], "alice@example.com", "{claims}");

    // The sign-in and the callback went to different replicas (round robin over both
    // addresses of the internal name): each one needed the IdP's discovery document.
    for (n, replica) in split.authenticate.iter().enumerate() {
        assert!(
            replica.has_log("OIDC discovery done"),
            "authenticate replica {n} took no part in the login"
        );
    }
    let proxied = split
        .proxy
        .json_lines()
        .iter()
        .filter(|l| l["route"] == "authenticate")
        .count();
    assert!(
        proxied >= 2,
        "the proxy logged {proxied} authenticate requests"
    );

    // A request that comes back to a proxy after being forwarded is a loop, not a hop.
    let looped = browser
        .get(split.public.join("/.portcullis/sign_in").unwrap())
        .header(portcullis_proxy::AUTHENTICATE_HOP.as_str(), "1")
        .send()
        .await
        .unwrap();
    assert_eq!(looped.status(), StatusCode::LOOP_DETECTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_requests_skip_a_dead_replica_and_spread_over_live_ones() {
    let proxy_port = free_port(&[ip(1)]);
    let idp = tokio::task::spawn_blocking(|| OidcProvider::start(&[], &[]))
        .await
        .unwrap()
        .expect("the OpenID provider starts (run scripts/setup)");
    let upstream = EchoUpstream::start("app").await.unwrap();
    let mut split = tokio::task::block_in_place(|| start(&idp, &upstream, proxy_port));
    let browser = browser(split.proxy.address("proxy"));
    let ping = split.public.join("/ping").unwrap();
    for _ in 0..10 {
        let answer = browser.get(ping.clone()).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    // Killed: its port refuses connections; every request still answers, from the other.
    split.authenticate[0].kill().unwrap();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let answer = browser.get(ping.clone()).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let proxy_log = split.proxy.lines().join("\n");
    assert!(
        proxy_log.contains("authenticate replica connect failed"),
        "the dead replica was tried and skipped"
    );
}
