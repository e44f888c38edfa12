//! Attack suite: headers (SECURITY.md, "What is tested"). Client-sent identity and
//! forwarding headers, oversized heads and bodies, and request-smuggling shapes sent as raw
//! bytes over TCP: each is answered with its exact status and the upstream never sees a
//! second request. (Forged identity headers, cookies and bearers on allowed requests are in
//! proxy_forwarding.rs `client_credentials_and_identity_headers_never_reach_the_upstream`.)

#[path = "attack/support.rs"]
mod support;

use support::{APP, Cluster, PUBLIC};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_identity_and_forwarding_headers_are_replaced_not_trusted() {
    let cluster = Cluster::start().await;
    let forged = [
        ("x-portcullis-jwt-assertion", "forged.jwt.value"),
        ("x-portcullis-claim-email", "root@example.com"),
        ("x-portcullis-user", "root"),
        ("x-forwarded-for", "10.9.9.9"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "admin.internal"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-prefix", "/admin"),
        ("forwarded", "for=10.9.9.9;host=admin.internal;proto=https"),
        ("x-real-ip", "10.9.9.9"),
        ("x-original-url", "/admin/delete"),
        ("x-rewrite-url", "/admin/delete"),
    ];
    let before = cluster.seen().len();
    let reply = cluster.get(PUBLIC, "/x", &forged).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = cluster.seen();
    assert_eq!(seen.len(), before + 1);
    let request = &seen[before];
    assert_eq!(request.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(request.header("x-forwarded-proto"), Some("http"));
    assert_eq!(request.header("x-forwarded-host"), Some(PUBLIC));
    for name in [
        "x-portcullis-jwt-assertion",
        "x-portcullis-claim-email",
        "x-portcullis-user",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "forwarded",
        "x-real-ip",
        "x-original-url",
        "x-rewrite-url",
    ] {
        assert_eq!(request.header(name), None, "{name} reached the upstream");
    }
    assert_eq!(
        request
            .headers
            .iter()
            .filter(|(k, _)| k == "x-forwarded-for")
            .count(),
        1
    );

    // The same headers cannot stand in for a session on a protected route.
    let before = cluster.seen().len();
    let reply = cluster.get(APP, "/admin", &forged).await;
    assert_eq!(reply.status, 401);
    cluster.assert_upstream_saw(before, "forged identity headers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_431_and_own_endpoints_cap_bodies_at_413() {
    let cluster = Cluster::start().await;
    let before = cluster.seen().len();
    let huge = "x".repeat(200 * 1024);
    let reply = cluster.get(PUBLIC, "/", &[("x-huge", &huge)]).await;
    assert_eq!(reply.status, 431, "one huge header");
    let many: Vec<(String, String)> = (0..200)
        .map(|i| (format!("x-h{i}"), "v".to_owned()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = cluster.get(PUBLIC, "/", &many).await;
    assert_eq!(reply.status, 431, "too many headers");
    let long_path = format!("/{}", "a".repeat(200 * 1024));
    let reply = cluster.get(PUBLIC, &long_path, &[]).await;
    assert!(
        matches!(reply.status, 414 | 431),
        "a 200 KiB request line: {}",
        reply.status
    );
    cluster.assert_upstream_saw(before, "oversized heads");

    // portcullis' own endpoints read bounded bodies: sign-out's form is capped.
    let body = "csrf=".to_owned() + &"a".repeat(64 * 1024);
    let request = format!(
        "POST /.portcullis/sign_out HTTP/1.1\r\nhost: {APP}\r\norigin: http://{APP}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = support::raw(cluster.proxy, request.as_bytes()).await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    cluster.assert_upstream_saw(before, "oversized sign-out form");
}

/// A request that would smuggle `GET /smuggled` if portcullis and the upstream framed it
/// differently.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nhost: public.example.test\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_smuggling_shapes_are_400_and_never_split_into_two_requests() {
    let cluster = Cluster::start().await;
    let post = |headers: &str, body: &str| {
        format!("POST /first HTTP/1.1\r\nhost: {PUBLIC}\r\n{headers}\r\n{body}")
    };
    let chunked_then_smuggled = format!("0\r\n\r\n{SMUGGLED}");
    let cases: Vec<(&str, String)> = vec![
        (
            "Transfer-Encoding and Content-Length",
            post(
                "content-length: 4\r\ntransfer-encoding: chunked\r\n",
                &chunked_then_smuggled,
            ),
        ),
        (
            "Content-Length and Transfer-Encoding",
            post(
                "transfer-encoding: chunked\r\ncontent-length: 60\r\n",
                &chunked_then_smuggled,
            ),
        ),
        (
            "two different Content-Lengths",
            post("content-length: 0\r\ncontent-length: 48\r\n", SMUGGLED),
        ),
        (
            "a Content-Length list",
            post("content-length: 0, 48\r\n", SMUGGLED),
        ),
        (
            "Transfer-Encoding: chunked, identity",
            post(
                "transfer-encoding: chunked, identity\r\n",
                &chunked_then_smuggled,
            ),
        ),
        (
            "Transfer-Encoding: identity",
            post(
                "transfer-encoding: identity\r\ncontent-length: 0\r\n",
                SMUGGLED,
            ),
        ),
        (
            "Transfer-Encoding with a space before the colon",
            post(
                "transfer-encoding : chunked\r\ncontent-length: 0\r\n",
                &chunked_then_smuggled,
            ),
        ),
        (
            "obsolete line folding",
            post("x-folded: a\r\n b\r\ncontent-length: 0\r\n", SMUGGLED),
        ),
        (
            "folded Transfer-Encoding",
            post(
                "transfer-encoding:\r\n chunked\r\ncontent-length: 0\r\n",
                &chunked_then_smuggled,
            ),
        ),
        (
            "a bad chunk size",
            post(
                "transfer-encoding: chunked\r\n",
                &format!("zz\r\n\r\n{SMUGGLED}"),
            ),
        ),
    ];
    for (i, (case, request)) in cases.into_iter().enumerate() {
        let before = cluster.seen().len();
        let reply = support::raw(cluster.proxy, request.as_bytes()).await;
        assert_eq!(reply.responses(), 1, "{case}: {}", reply.text());
        assert!(
            cluster.seen().iter().all(|r| r.path != "/smuggled"),
            "{case}: the smuggled request reached the upstream"
        );
        if i < 2 {
            // hyper takes RFC 9112 §6.1's other option: it frames by Transfer-Encoding alone,
            // drops Content-Length and closes the connection after the response. The upstream
            // gets one re-framed request (never both headers) and nothing after it is read.
            assert_eq!(reply.status, 200, "{case}: {}", reply.text());
            assert_eq!(reply.header("connection"), Some("close"), "{case}");
            let seen = cluster.seen();
            assert_eq!(seen.len(), before + 1, "{case}");
            assert_eq!(seen[before].path, "/first");
            assert!(
                seen[before].header("content-length").is_none()
                    || seen[before].header("transfer-encoding").is_none(),
                "{case}: {:?}",
                seen[before]
            );
        } else {
            assert_eq!(reply.status, 400, "{case}: {}", reply.text());
            cluster.assert_upstream_saw(before, case);
        }
    }

    // Bare LF line endings: hyper recognizes them (RFC 9112 §2.2 allows it), so a pipelined
    // request is a request of its own — authorized on its own, and re-sent upstream with CRLF,
    // so portcullis and the upstream cannot disagree on where it starts (SECURITY.md).
    let before = cluster.seen().len();
    let request = format!(
        "GET /first HTTP/1.1\nhost: {PUBLIC}\n\nGET /admin HTTP/1.1\nhost: {APP}\nconnection: close\n\n"
    );
    let reply = support::raw(cluster.proxy, request.as_bytes()).await;
    assert_eq!(reply.responses(), 2, "{}", reply.text());
    assert!(reply.text().contains("HTTP/1.1 401"), "{}", reply.text());
    let paths: Vec<String> = cluster.seen()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        paths,
        ["/first"],
        "bare LF: the protected request was not forwarded"
    );

    // A well-framed chunked request followed by a pipelined one: two requests, both seen as
    // sent (the control for the cases above).
    let before = cluster.seen().len();
    let request = format!(
        "POST /first HTTP/1.1\r\nhost: {PUBLIC}\r\ntransfer-encoding: chunked\r\n\r\n\
         3\r\nabc\r\n0\r\n\r\nGET /second HTTP/1.1\r\nhost: {PUBLIC}\r\nconnection: close\r\n\r\n"
    );
    let reply = support::raw(cluster.proxy, request.as_bytes()).await;
    assert_eq!(reply.responses(), 2, "{}", reply.text());
    let paths: Vec<String> = cluster.seen()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/first", "/second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portcullis_own_pages_refuse_framing_and_sniffing_and_cap_bodies() {
    let cluster = Cluster::start().await;
    let ann = cluster.login("ann", "ann@example.com").await;
    let eve = cluster.login("eve", "eve@evil.example").await;
    let html = ("accept", "text/html");
    let pages = [
        (
            "sign-out page",
            APP,
            "/.portcullis/sign_out",
            ann.cookie(),
            200,
        ),
        ("user page", APP, "/.portcullis/", ann.cookie(), 200),
        ("deny page", APP, "/", eve.cookie(), 403),
        (
            "callback refusal",
            APP,
            "/.portcullis/callback?portcullis_handoff=x",
            String::new(),
            400,
        ),
        ("no route", "nowhere.example.test", "/", String::new(), 404),
        (
            "authenticate sign-out page",
            support::AUTHENTICATE,
            "/.portcullis/sign_out",
            String::new(),
            200,
        ),
        (
            "authenticate error",
            support::AUTHENTICATE,
            "/.portcullis/sign_in",
            String::new(),
            400,
        ),
    ];
    for (case, host, path, cookie, status) in pages {
        let reply = cluster.get(host, path, &[html, ("cookie", &cookie)]).await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{case}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{case}"
        );
        // Plain HTTP: no HSTS (it is only sent over TLS, see attack_paths_hosts.rs).
        assert_eq!(reply.header("strict-transport-security"), None, "{case}");
    }
    // Authenticate's form endpoint reads at most 8 KiB.
    let body = "csrf=".to_owned() + &"a".repeat(64 * 1024);
    let request = format!(
        "POST /.portcullis/sign_out HTTP/1.1\r\nhost: {}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        support::AUTHENTICATE,
        body.len()
    );
    let reply = support::raw(cluster.proxy, request.as_bytes()).await;
    assert_eq!(reply.status, 413, "{}", reply.text());
}
