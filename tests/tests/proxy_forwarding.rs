//! Forwarding against real hyper upstreams on 127.0.0.1:0, with the real authorize engine
//! over a memory databroker: header rules and `X-Forwarded-*`, credentials and identity
//! headers that never reach upstreams, several upstreams with one down, timeouts, streaming
//! both ways without buffering, bad requests, graceful drain.

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use support::{Harness, public, read, route};
use upstreams::Upstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_rules_forwarded_headers_and_hop_by_hop() {
    let up = Upstream::http("up").await;
    let routes = public(
        "h",
        "https://app.example.com",
        &up.url(),
        "set_request_headers: {X-Set: set-value, X-Replaced: new}, remove_request_headers: [X-Remove], \
         set_response_headers: {X-Route: route, X-Both: route}",
    );
    let proxy = Harness::start_with(
        "insecure_server: true\nset_response_headers: {X-Global: global, X-Both: global}\n",
        &routes,
    )
    .await;
    let reply = proxy
        .get(
            "app.example.com",
            "/",
            &[
                ("x-replaced", "old"),
                ("x-remove", "gone"),
                ("x-forwarded-for", "198.51.100.1"),
                ("x-forwarded-proto", "ftp"),
                // Not a sane id (space, angle brackets): replaced. Sane client ids are kept
                // (tests/tests/observability_request_id.rs).
                ("x-request-id", "client <chosen>"),
                ("connection", "x-hop"),
                ("x-hop", "hop"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.seen_header("x-set").as_deref(), Some("set-value"));
    assert_eq!(reply.seen_header("x-replaced").as_deref(), Some("new"));
    assert_eq!(reply.seen_header("x-remove"), None);
    assert_eq!(
        reply.seen_header("x-hop"),
        None,
        "named in Connection: hop-by-hop"
    );
    assert_eq!(
        reply.seen_header("x-forwarded-for").as_deref(),
        Some("127.0.0.1"),
        "the client's claim is replaced (SECURITY.md)"
    );
    assert_eq!(
        reply.seen_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    assert_eq!(
        reply.seen_header("x-forwarded-host").as_deref(),
        Some("app.example.com")
    );
    let id = reply.seen_header("x-request-id").unwrap();
    assert_ne!(id, "client <chosen>");
    assert_eq!(id.len(), 32);
    assert_eq!(reply.header("x-route"), Some("route"));
    assert_eq!(reply.header("x-global"), Some("global"));
    assert_eq!(reply.header("x-both"), Some("route"), "the route wins");
    assert_eq!(reply.header("x-upstream"), Some("up"));
    assert_eq!(
        reply.header("keep-alive"),
        None,
        "hop-by-hop from the upstream"
    );
    // Global response headers reach answers that no upstream gave, too.
    let missing = proxy.get("nowhere.example.com", "/", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("x-global"), Some("global"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_and_identity_headers_never_reach_the_upstream() {
    let up = Upstream::http("up").await;
    let routes = [
        route(
            "app",
            "https://app.example.com",
            &up.url(),
            "allowed_domains: [example.com], pass_identity_headers: true",
        ),
        public("pub", "https://public.example.com", &up.url(), ""),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;
    let alice = proxy.login("alice", "alice@example.com", &["staff"]).await;
    let cookie = format!("a=1; {}; b=2", alice.cookie());
    let forged = [
        ("x-portcullis-jwt-assertion", "forged.jwt.value"),
        ("x-portcullis-claim-email", "boss@example.com"),
        ("x-portcullis-anything", "forged"),
        ("x-email", "boss@example.com"),
    ];
    let mut headers = vec![("cookie", cookie.as_str())];
    headers.extend(forged);
    let reply = proxy.get("app.example.com", "/", &headers).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    assert_eq!(reply.seen_header("cookie").as_deref(), Some("a=1; b=2"));
    let jwt = reply.seen_header("x-portcullis-jwt-assertion").unwrap();
    assert_ne!(jwt, "forged.jwt.value");
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(
        reply.seen_header("x-portcullis-claim-email").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        reply.seen_header("x-email").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(reply.seen_header("x-portcullis-anything"), None);
    assert!(
        !json.to_string().contains(&alice.token),
        "the session token never passes"
    );

    // The token as a bearer or in X-Portcullis-Authorization: gone too.
    let bearer = format!("Bearer Portcullis-{}", alice.token);
    for header in ["authorization", "x-portcullis-authorization"] {
        let reply = proxy
            .get("app.example.com", "/", &[(header, &bearer)])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{header}: {}", reply.text());
        assert!(!reply.text().contains(&alice.token), "{header}");
        assert_eq!(reply.seen_header(header), None);
    }
    // Other Authorization schemes pass.
    let basic = proxy
        .get(
            "app.example.com",
            "/",
            &[("cookie", &alice.cookie()), ("authorization", "Basic dTpw")],
        )
        .await;
    assert_eq!(
        basic.seen_header("authorization").as_deref(),
        Some("Basic dTpw")
    );

    // Anonymous on a public route: forged identity headers are stripped all the same.
    let mut headers = forged.to_vec();
    headers.push(("cookie", "_portcullis=not-a-valid-handle; c=3"));
    let reply = proxy.get("public.example.com", "/", &headers).await;
    assert_eq!(reply.status, StatusCode::OK);
    for (name, _) in forged {
        assert_eq!(reply.seen_header(name), None, "{name}");
    }
    assert_eq!(reply.seen_header("cookie").as_deref(), Some("c=3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_upstream_is_skipped_and_bodies_survive_the_retry() {
    let a = Upstream::http("a").await;
    let b = Upstream::http("b").await;
    let down = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    }; // closed again: connections are refused
    let to = format!("[\"http://{down}\", \"{}\", \"{}\"]", a.url(), b.url());
    let routes = format!(
        "  - {{id: many, from: 'https://app.example.com', to: {to}, allow_public_unauthenticated_access: true}}\n  - {{id: none, from: 'https://dead.example.com', to: 'http://{down}', allow_public_unauthenticated_access: true}}\n"
    );
    let proxy = Harness::start(&routes).await;
    let mut answered = Vec::new();
    for _ in 0..6 {
        let reply = proxy.get("app.example.com", "/", &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        answered.push(reply.upstream());
    }
    assert!(
        answered.contains(&"a".to_owned()) && answered.contains(&"b".to_owned()),
        "{answered:?}"
    );
    for _ in 0..3 {
        let body = Bytes::from(vec![b'z'; 100_000]);
        let reply = proxy
            .call("POST", "app.example.com", "/upload", &[], body)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.text(),
            "100000",
            "the body reached the next upstream whole"
        );
    }
    let dead = proxy.get("dead.example.com", "/", &[]).await;
    assert_eq!(dead.status, StatusCode::BAD_GATEWAY);
    assert!(
        !dead.text().contains(&down.to_string()),
        "no internal detail: {}",
        dead.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_become_504_and_idle_streams_are_cut() {
    let up = Upstream::http("up").await;
    let routes = [
        public("t", "https://app.example.com", &up.url(), "timeout: 300ms"),
        public(
            "idle",
            "https://idle.example.com",
            &up.url(),
            "idle_timeout: 300ms, timeout: 0s",
        ),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;
    let started = Instant::now();
    let reply = proxy.get("app.example.com", "/slow/3000", &[]).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        proxy.get("app.example.com", "/slow/10", &[]).await.status,
        StatusCode::OK
    );

    // The stream's first chunk comes, then nothing: cut after the idle timeout.
    let response = proxy
        .send(
            Request::get("/stream")
                .header("host", "idle.example.com")
                .body(support::full(""))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first\n");
    let started = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(_)) => return Err(()),
                None => return Ok(()),
            }
        }
    })
    .await
    .expect("the idle stream is cut well before 5 s");
    assert!(
        rest.is_err(),
        "an idle-cut stream ends with an error, not a clean end"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_both_ways_without_buffering() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&public("s", "https://app.example.com", &up.url(), "")).await;

    // Download: the first chunk arrives while the upstream is still holding the rest.
    let response = proxy
        .send(
            Request::get("/stream")
                .header("host", "app.example.com")
                .body(support::full(""))
                .unwrap(),
        )
        .await;
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk before the upstream finished")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first\n");
    up.release();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest.len(), 16 * 64 * 1024 + 4);
    assert!(rest.ends_with(b"end\n"));

    // Upload: the upstream reads the first chunk before the client has sent the rest.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| {
            (
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(hyper::body::Frame::data(b)),
                rx,
            )
        })
    });
    let request = Request::post("/upload")
        .header("host", "app.example.com")
        .body(http_body_util::StreamBody::new(frames).boxed())
        .unwrap();
    let sending = tokio::spawn({
        let proxy_addr = proxy.addr;
        async move {
            let mut request = request;
            *request.uri_mut() = format!("http://{proxy_addr}/upload").parse().unwrap();
            read(support::client().request(request).await.unwrap()).await
        }
    });
    tx.send(Bytes::from(vec![b'a'; 256 * 1024])).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), up.first_frame())
        .await
        .expect("the upstream got the first chunk while the upload was still open");
    for _ in 0..15 {
        tx.send(Bytes::from(vec![b'b'; 256 * 1024])).await.unwrap();
    }
    drop(tx);
    let reply = sending.await.unwrap();
    assert_eq!(reply.text(), (16 * 256 * 1024).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_400_and_shutdown_drains_in_flight_requests() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&public("s", "https://app.example.com", &up.url(), "")).await;
    assert_eq!(
        proxy.get("bad host", "/", &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        proxy.get("app.example.com:99999", "/", &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    let huge = "x".repeat(200 * 1024);
    let reply = proxy
        .get("app.example.com", "/", &[("x-huge", &huge)])
        .await;
    assert_eq!(reply.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(
        proxy
            .get("app.example.com", "/.portcullis/nothing", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        up.seen().iter().all(|s| !s.uri.starts_with("/.portcullis")),
        "reserved paths stay"
    );

    // A request in flight when shutdown begins still completes.
    let addr = proxy.addr;
    let in_flight = tokio::spawn(async move {
        let request = Request::get(format!("http://{addr}/slow/500"))
            .header("host", "app.example.com")
            .body(support::full(""))
            .unwrap();
        read(support::client().request(request).await.unwrap()).await
    });
    support::wait_until(
        Duration::from_secs(5),
        "the slow request reached the upstream",
        || up.seen().iter().any(|s| s.uri == "/slow/500"),
    )
    .await;
    let stopping = tokio::spawn(proxy.stop());
    let reply = in_flight.await.unwrap();
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the in-flight request finished"
    );
    stopping.await.unwrap().expect("serve ends cleanly");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
