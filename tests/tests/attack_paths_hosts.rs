//! Attack suite: paths and hosts (SECURITY.md, "What is tested"). Request targets and hosts
//! spelled every way a client can, sent as raw HTTP/1.1 over TCP and TLS and as HTTP/2 with a
//! `:authority` that disagrees with `Host`: the policy of the route the request really
//! addresses always applies, and the upstream sees the host portcullis decided on.
//! (The 14 path spellings of `/admin` through the in-process proxy are in proxy_routing.rs
//! `path_tricks_never_reach_what_policy_denies_for_admin`.)

#[path = "attack/support.rs"]
mod support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_testing::tls::TestCa;
use support::{APP, Cluster, Options, PUBLIC};
use tokio::io::AsyncWriteExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_path_spellings_of_admin_get_admins_policy() {
    let cluster = Cluster::start().await;
    let ann = cluster.login("ann", "ann@example.com").await;
    let cookie = ann.cookie();
    assert_eq!(
        cluster.get(APP, "/", &[("cookie", &cookie)]).await.status,
        200
    );
    let before = cluster.seen().len();
    let mut got = Vec::new();
    for trick in [
        "/admin",
        "/x/..\\admin",
        "\\admin",
        "/x\\..\\..\\admin",
        "//admin",
        "/./admin",
        "/%2e/admin",
        "/%2e%2e/admin",
        "/x/%2e%2e%2fadmin",
        "/x/%2E%2E%5Cadmin",
        "/%2fadmin",
        "/%5cadmin",
        "/admin%2f..%2fadmin",
        "/%61%64%6d%69%6e",
        "/admin;param",
        "/admin%00",
        "/admin?x=../",
        "http://app.example.test/admin",
        "http://APP.example.test./../admin",
    ] {
        let reply = cluster.get(APP, trick, &[("cookie", &cookie)]).await;
        // A target starting with a backslash is no origin-form: hyper refuses the line.
        let expected = if trick.starts_with('\\') { 400 } else { 403 };
        got.push((trick, reply.status, expected));
    }
    let wrong: Vec<_> = got
        .iter()
        .filter(|(_, status, expected)| status != expected)
        .collect();
    assert!(wrong.is_empty(), "(target, status, expected): {wrong:?}");
    cluster.assert_upstream_saw(before, "spellings of /admin");

    // Targets that are not paths at all.
    for (trick, status) in [
        ("*", 400),
        ("app.example.test:80", 400),
        ("/a%zz", 400),
        ("/%", 400),
    ] {
        let reply = cluster.get(APP, trick, &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, status, "{trick}: {}", reply.text());
    }
    cluster.assert_upstream_saw(before, "bad targets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_spellings_ports_and_disagreeing_hosts_choose_one_route() {
    let cluster = Cluster::start().await;
    let before = cluster.seen().len();
    // Case, trailing dots and the default port all name the protected app host.
    for host in [
        "APP.EXAMPLE.TEST",
        "App.Example.Test.",
        "app.example.test:80",
        "app.example.test.:80",
        "app.example.test:0080",
    ] {
        let reply = cluster.get(host, "/", &[]).await;
        assert_eq!(reply.status, 401, "{host}: {}", reply.text());
    }
    cluster.assert_upstream_saw(before, "app host spellings");
    // Hosts that are no route, or not hosts.
    for (host, status) in [
        ("app.example.test:8080", 404),
        ("app.example.test:443", 404),
        ("port.example.test", 404),
        ("app.example.test.evil.example", 404),
        ("root@app.example.test", 400),
        ("app.example.test:99999", 400),
        ("app.example.test:", 400),
        ("app example test", 400),
    ] {
        let reply = cluster.get(host, "/", &[]).await;
        assert_eq!(reply.status, status, "{host}: {}", reply.text());
    }
    assert_eq!(
        cluster.get("port.example.test:8080", "/", &[]).await.status,
        200
    );
    let before = cluster.seen().len();

    // No Host, or two: 400 (RFC 9112 §3.2).
    let none = support::raw(
        cluster.proxy,
        b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(none.status, 400);
    let two =
        format!("GET / HTTP/1.1\r\nhost: {PUBLIC}\r\nhost: {APP}\r\nconnection: close\r\n\r\n");
    let two = support::raw(cluster.proxy, two.as_bytes()).await;
    assert_eq!(two.status, 400, "{}", two.text());
    cluster.assert_upstream_saw(before, "no host or two");

    // Absolute-form wins over Host (RFC 9112 §3.2.2): the protected app's policy applies...
    let smuggle =
        format!("GET http://{APP}/admin HTTP/1.1\r\nhost: {PUBLIC}\r\nconnection: close\r\n\r\n");
    let reply = support::raw(cluster.proxy, smuggle.as_bytes()).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    cluster.assert_upstream_saw(before, "absolute-form app, Host public");
    // ...and when the absolute-form names the public route, the upstream hears that host,
    // never the Host line the client added.
    let reply = support::raw(
        cluster.proxy,
        format!("GET http://{PUBLIC}/p HTTP/1.1\r\nhost: {APP}\r\nconnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = cluster.seen();
    assert_eq!(seen.len(), before + 1);
    assert_eq!(seen[before].header("host"), Some(PUBLIC));
    assert_eq!(seen[before].header("x-forwarded-host"), Some(PUBLIC));

    // HTTP/2 (h2c prior knowledge): `:authority` app with `host: public`.
    let before = cluster.seen().len();
    let (status, _) = h2c(&cluster, &format!("http://{APP}/admin"), PUBLIC).await;
    assert_eq!(status, 401);
    cluster.assert_upstream_saw(before, "h2 :authority app, host public");
    let (status, _) = h2c(&cluster, &format!("http://{PUBLIC}/h2"), APP).await;
    assert_eq!(status, 200);
    let seen = cluster.seen();
    assert_eq!(seen.len(), before + 1);
    assert_eq!(
        seen[before].header("host"),
        Some(PUBLIC),
        "{:?}",
        seen[before]
    );
}

/// One HTTP/2 request with prior knowledge: `uri` gives `:authority`, plus a `host` header.
async fn h2c(cluster: &Cluster, uri: &str, host: &str) -> (u16, Bytes) {
    let stream = tokio::net::TcpStream::connect(cluster.proxy).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(uri)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }
        // A stream reset for a malformed request is as good as a 400.
        Err(error) => {
            assert!(
                error.to_string().contains("reset") || error.is_closed(),
                "{error}"
            );
            (400, Bytes::new())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_sni_never_overrides_host_and_https_answers_carry_hsts() {
    let ca = TestCa::new("attack CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca
        .leaf(&[APP, PUBLIC, support::AUTHENTICATE, "port.example.test"])
        .write_pem(dir.path(), "leaf")
        .unwrap();
    let cluster = Cluster::start_with(Options {
        listener: Some(format!(
            "certificate_file: {}\ncertificate_key_file: {}\n",
            cert.display(),
            key.display()
        )),
        scheme: Some("https"),
        ..Options::default()
    })
    .await;
    let connector = tokio_rustls::TlsConnector::from(ca.client_config(&[b"http/1.1"]));
    let send = |sni: &'static str, request: String| {
        let connector = connector.clone();
        let proxy = cluster.proxy;
        async move {
            let tcp = tokio::net::TcpStream::connect(proxy).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from(sni).unwrap();
            let mut tls = connector.connect(name, tcp).await.unwrap();
            tls.write_all(request.as_bytes()).await.unwrap();
            support::read_all(&mut tls).await
        }
    };
    let before = cluster.seen().len();
    // SNI says public, Host says app: app's policy.
    let reply = send(
        PUBLIC,
        format!("GET /admin HTTP/1.1\r\nhost: {APP}\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    cluster.assert_upstream_saw(before, "SNI public, Host app");
    // HTTPS answers carry HSTS: portcullis' own and the upstream's.
    let hsts = "max-age=31536000; includeSubDomains";
    assert_eq!(reply.header("strict-transport-security"), Some(hsts));
    let reply = send(
        APP,
        format!("GET / HTTP/1.1\r\nhost: {PUBLIC}\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("strict-transport-security"), Some(hsts));
    let seen = cluster.seen();
    assert_eq!(seen.last().unwrap().header("host"), Some(PUBLIC));
    assert_eq!(
        seen.last().unwrap().header("x-forwarded-proto"),
        Some("https")
    );

    // TLS 1.2 with a modern suite is accepted; the listener offers nothing older (rustls
    // speaks no TLS 1.0/1.1 at all — see SECURITY.md).
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates({
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).unwrap();
        roots
    })
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(cluster.proxy).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(tls12))
        .connect(rustls_pki_types::ServerName::try_from(PUBLIC).unwrap(), tcp)
        .await
        .expect("a TLS 1.2 handshake");
    let (_, session) = tls.get_ref();
    assert_eq!(
        session.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let suite = session.negotiated_cipher_suite().unwrap();
    assert!(
        format!("{:?}", suite.suite()).contains("ECDHE"),
        "{:?}",
        suite.suite()
    );
}
