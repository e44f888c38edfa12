//! TLS on both sides of the proxy: the listener (certificates by SNI, ALPN h2 and
//! http/1.1) and upstreams (custom CA, server name, client certificate, skip-verify), plus
//! h2c upstreams. Certificates come from a throw-away CA (`portcullis_testing::tls`).

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_testing::tls::{Leaf, TestCa};
use rustls_pki_types::ServerName;
use support::{Harness, full, public, read};
use upstreams::Upstream;

fn b64(pem: &str) -> String {
    STANDARD.encode(pem)
}

fn certificate_entry(leaf: &Leaf) -> String {
    format!(
        "  - {{cert: {}, key: {}}}\n",
        b64(&leaf.cert_pem),
        b64(&leaf.key_pem)
    )
}

/// A TLS connection to the proxy with `sni`, offering `alpn`.
async fn connect(
    proxy: &Harness,
    ca: &TestCa,
    sni: &str,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(proxy.addr).await?;
    let connector = tokio_rustls::TlsConnector::from(ca.client_config(alpn));
    connector
        .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_picks_certificates_by_sni_and_speaks_h2_and_http1() {
    let ca = TestCa::new("listener CA");
    let app = ca.leaf(&["app.example.com"]);
    let other = ca.leaf(&["*.other.example.com"]);
    let up = Upstream::http("up").await;
    let extra = format!(
        "certificates:\n{}{}",
        certificate_entry(&app),
        certificate_entry(&other)
    );
    let routes = [
        public("app", "https://app.example.com", &up.url(), ""),
        public("other", "https://x.other.example.com", &up.url(), ""),
    ]
    .concat();
    let proxy = Harness::start_with(&extra, &routes).await;

    // SNI app.example.com, ALPN h2: the app certificate, HTTP/2.
    let tls = connect(&proxy, &ca, "app.example.com", &[b"h2", b"http/1.1"])
        .await
        .expect("handshake");
    let (_, session) = tls.get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(session.peer_certificates().unwrap()[0], app.cert_der);
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let response = send
        .send_request(
            Request::get("https://app.example.com/h2")
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    let reply = read(response).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.seen_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    assert_eq!(
        reply.json()["version"],
        "HTTP/1.1",
        "h2 in front, h1 to an http:// upstream"
    );

    // A wildcard certificate by SNI, HTTP/1.1 by ALPN.
    let tls = connect(&proxy, &ca, "x.other.example.com", &[b"http/1.1"])
        .await
        .expect("handshake");
    assert_eq!(
        tls.get_ref().1.peer_certificates().unwrap()[0],
        other.cert_der
    );
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = send
        .send_request(
            Request::get("/h1")
                .header("host", "x.other.example.com")
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read(response).await.status, StatusCode::OK);

    // An unknown name gets the first certificate, which the client rightly refuses.
    let refused = connect(&proxy, &ca, "unknown.example.net", &[b"h2"]).await;
    assert!(
        refused.is_err(),
        "the default certificate does not cover unknown names"
    );
    // Plain HTTP on the TLS listener is not served.
    let plain = support::client()
        .request(
            Request::get(format!("http://{}/", proxy.addr))
                .header("host", "app.example.com")
                .body(full(""))
                .unwrap(),
        )
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_with_custom_ca_server_name_and_skip_verify() {
    let ca = TestCa::new("upstream CA");
    let by_ip = ca.leaf(&["127.0.0.1"]);
    let by_name = ca.leaf(&["internal.test"]);
    let ip_up = Upstream::https("by-ip", by_ip.server_config(&[b"h2", b"http/1.1"])).await;
    let name_up = Upstream::https("by-name", by_name.server_config(&[b"http/1.1"])).await;
    let ca_b64 = b64(&ca.cert_pem());
    let ip = format!("https://{}", ip_up.addr);
    let name = format!("https://{}", name_up.addr);
    let routes = [
        public(
            "ca",
            "https://ca.example.com",
            &ip,
            &format!("tls_custom_ca: {ca_b64}"),
        ),
        public("untrusted", "https://untrusted.example.com", &ip, ""),
        public(
            "sni",
            "https://sni.example.com",
            &name,
            &format!("tls_custom_ca: {ca_b64}, tls_server_name: internal.test"),
        ),
        public(
            "wrong-name",
            "https://wrong.example.com",
            &name,
            &format!("tls_custom_ca: {ca_b64}"),
        ),
        public(
            "skip",
            "https://skip.example.com",
            &name,
            "tls_skip_verify: true",
        ),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;

    let reply = proxy.get("ca.example.com", "/x", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.upstream(), "by-ip");
    assert_eq!(
        reply.json()["version"],
        "HTTP/2.0",
        "ALPN chose h2 upstream"
    );
    let reply = proxy.get("untrusted.example.com", "/", &[]).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_GATEWAY,
        "not trusted without the CA"
    );
    let reply = proxy.get("sni.example.com", "/", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["version"], "HTTP/1.1");
    let reply = proxy.get("wrong.example.com", "/", &[]).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_GATEWAY,
        "the certificate is not for 127.0.0.1"
    );
    let reply = proxy.get("skip.example.com", "/", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "tls_skip_verify accepts it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_that_require_a_client_certificate_get_the_routes() {
    let ca = TestCa::new("mTLS CA");
    let server = ca.leaf(&["127.0.0.1"]);
    let client = ca.leaf(&["portcullis-proxy"]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.cert_der.clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(server.key_der.clone_key()),
        )
        .unwrap();
    let up = Upstream::https("mtls", Arc::new(config)).await;
    let to = format!("https://{}", up.addr);
    let ca_b64 = b64(&ca.cert_pem());
    let routes = [
        public(
            "with",
            "https://with.example.com",
            &to,
            &format!(
                "tls_custom_ca: {ca_b64}, tls_client_cert: {}, tls_client_key: {}",
                b64(&client.cert_pem),
                b64(&client.key_pem)
            ),
        ),
        public(
            "without",
            "https://without.example.com",
            &to,
            &format!("tls_custom_ca: {ca_b64}"),
        ),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;
    let with = proxy.get("with.example.com", "/", &[]).await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.text());
    let without = proxy.get("without.example.com", "/", &[]).await;
    assert_eq!(without.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_upstreams_get_http2_with_prior_knowledge() {
    let up = Upstream::http("h2c").await;
    let routes = public(
        "h2c",
        "https://app.example.com",
        &format!("h2c://{}", up.addr),
        "",
    );
    let proxy = Harness::start(&routes).await;
    for _ in 0..3 {
        let reply = proxy
            .get("app.example.com", "/grpc-ish", &[("te", "trailers")])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["version"], "HTTP/2.0");
        assert_eq!(reply.seen_header("te").as_deref(), Some("trailers"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_redirect_listener_sends_everything_to_https() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(portcullis_proxy::serve_http_redirect(
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let client = support::client();
    for (method, status) in [
        ("GET", StatusCode::MOVED_PERMANENTLY),
        ("POST", StatusCode::PERMANENT_REDIRECT),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{addr}/a/b?c=d"))
            .header("host", "app.example.com")
            .body(full(""))
            .unwrap();
        let reply = read(client.request(request).await.unwrap()).await;
        assert_eq!(reply.status, status);
        assert_eq!(
            reply.header("location"),
            Some("https://app.example.com/a/b?c=d")
        );
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
