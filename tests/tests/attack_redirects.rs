//! Attack suite: redirects (SECURITY.md, "What is tested"). Every endpoint that takes a
//! return address — the proxy's sign-in redirect, its sign-out, its login API and login
//! callback, and authenticate's signed sign-in and sign-out — is given foreign hosts,
//! `//evil`, `https:evil`, backslashes, userinfo tricks, other schemes and encoded or raw
//! newlines: no answer sends the browser off the cluster's hosts and no header is injected.
//! (Authenticate's own checks in process: authenticate_rejections.rs
//! `sign_in_urls_must_be_signed_and_return_to_a_route_host`.)

#[path = "attack/support.rs"]
mod support;

use std::time::{Duration, SystemTime};

use portcullis_grpc::{Handoff, HandoffCodec, UrlSigner};
use support::{APP, AUTHENTICATE, Cluster, Raw};
use url::Url;

const TRICKS: [&str; 22] = [
    "https://evil.example.net/",
    "//evil.example.net/",
    "///evil.example.net/",
    "https:evil.example.net",
    "http:evil.example.net",
    "/\\evil.example.net/",
    "\\\\evil.example.net",
    "http:\\\\evil.example.net\\",
    "http://app.example.test@evil.example.net/",
    "http://app.example.test:80@evil.example.net/",
    "http://evil.example.net\\@app.example.test/",
    "http://evil.example.net#@app.example.test/",
    "http://evil.example.net?@app.example.test/",
    "http://evil.example.net%2f@app.example.test/",
    "http://app.example.test.evil.example.net/",
    "javascript://app.example.test/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://app.example.test/",
    "http://app.example.test:8080/",
    "http://app.example.test/%0d%0aSet-Cookie:%20pwn=1",
    "http://app.example.test/\r\nSet-Cookie: pwn=1",
    "http://app.example.test%0d%0aSet-Cookie:%20pwn=1/",
];

/// `text` as a query value.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// No header was injected, and a `Location` (if any) stays on the cluster: the app host
/// (plain http, no user info) or the authenticate host, whose own `redirect_uri` is the app.
fn assert_contained(reply: &Raw, case: &str) {
    let head = reply.text();
    let head = head
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        !head.contains("\r\nset-cookie: pwn"),
        "{case}: injected header\n{head}"
    );
    assert!(!head.contains("\r\npwn"), "{case}: injected header\n{head}");
    assert!(reply.all("location").len() <= 1, "{case}: {head}");
    let Some(location) = reply.header("location") else {
        return;
    };
    let url = Url::parse(location).unwrap_or_else(|e| panic!("{case}: {location}: {e}"));
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{case}: {location}"
    );
    match url.host_str() {
        Some(APP) => assert_eq!(url.scheme(), "http", "{case}: {location}"),
        Some(AUTHENTICATE) => {
            if let Some((_, back)) = url.query_pairs().find(|(k, _)| k == "redirect_uri") {
                let back = Url::parse(&back).unwrap_or_else(|e| panic!("{case}: {back}: {e}"));
                assert_eq!(
                    (back.scheme(), back.host_str(), back.port()),
                    ("http", Some(APP), None),
                    "{case}: {location}"
                );
                assert!(back.username().is_empty(), "{case}: {location}");
            }
        }
        other => panic!("{case}: redirected to {other:?}: {location}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxys_redirects_stay_on_the_route_host() {
    let cluster = Cluster::start().await;
    let html = ("accept", "text/html");

    // The sign-in redirect carries the requested URL; newlines in the path stay encoded.
    for path in [
        "/%0d%0aSet-Cookie:%20pwn=1",
        "/%0aSet-Cookie:%20pwn=1",
        "//evil.example.net/",
        "/\\evil.example.net",
        "/x?next=%0d%0aSet-Cookie:%20pwn=1",
    ] {
        let reply = cluster.get(APP, path, &[html]).await;
        assert_eq!(reply.status, 302, "{path}: {}", reply.text());
        assert_contained(&reply, path);
    }

    // The login API takes loopback addresses only.
    for trick in TRICKS.iter().chain(&[
        "http://127.0.0.1.evil.example.net/",
        "http://localhost@evil.example.net/",
        "http://localhost.evil.example.net/",
        "http://evil.example.net\\@127.0.0.1/",
        "http://[::1]@evil.example.net/",
        "//127.0.0.1:5555/",
    ]) {
        let path = format!("/.portcullis/api/v1/login?redirect_uri={}", encode(trick));
        let reply = cluster.get(APP, &path, &[]).await;
        assert_eq!(reply.status, 400, "{trick}: {}", reply.text());
    }
    let ok = cluster
        .get(
            APP,
            "/.portcullis/api/v1/login?redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2F",
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "the control: {}", ok.text());

    // Sign-out: the confirmation page echoes the address only escaped; the POST returns to
    // this host whatever was asked.
    let ann = cluster.login("ann", "ann@example.com").await;
    let page = cluster
        .get(
            APP,
            &format!(
                "/.portcullis/sign_out?redirect_uri={}",
                encode("\"><script>alert(1)</script>")
            ),
            &[("cookie", &ann.cookie())],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("<script>alert"), "{}", page.text());
    let text = page.text();
    let csrf = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    for trick in TRICKS {
        let form = format!("csrf={csrf}&redirect_uri={}", encode(trick));
        let request = format!(
            "POST /.portcullis/sign_out HTTP/1.1\r\nhost: {APP}\r\norigin: http://{APP}\r\n\
             cookie: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{form}",
            ann.cookie(),
            form.len()
        );
        let reply = support::raw(cluster.proxy, request.as_bytes()).await;
        assert_eq!(reply.status, 302, "{trick}: {}", reply.text());
        assert_contained(&reply, trick);
    }

    // The login callback: a genuine handoff (sealed with the shared secret) made for another
    // host, or with a trick for an address, is refused.
    let handoffs = HandoffCodec::new(&support::SHARED_SECRET);
    for trick in TRICKS {
        let Ok(redirect_uri) = Url::parse(trick) else {
            continue;
        };
        let handoff = Handoff {
            token: ann.token.clone(),
            redirect_uri,
        };
        let url = handoffs.callback_url(&handoff, SystemTime::now());
        let path = format!("/.portcullis/callback?{}", url.query().unwrap());
        let reply = cluster.get(APP, &path, &[]).await;
        let on_app = Url::parse(trick).is_ok_and(|u| {
            u.host_str() == Some(APP)
                && u.port().is_none()
                && u.scheme() == "http"
                && u.username().is_empty()
        });
        if on_app {
            assert_eq!(reply.status, 302, "{trick}: {}", reply.text());
        } else {
            assert_eq!(reply.status, 400, "{trick}: {}", reply.text());
            assert!(reply.all("set-cookie").is_empty(), "{trick}");
        }
        assert_contained(&reply, trick);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_refuses_foreign_return_addresses_even_when_signed() {
    let cluster = Cluster::start().await;
    let signer = UrlSigner::new(&support::SHARED_SECRET);
    for endpoint in ["/.portcullis/sign_in", "/.portcullis/sign_out"] {
        for trick in TRICKS {
            // Unsigned: refused before anything else.
            let path = format!("{endpoint}?redirect_uri={}", encode(trick));
            let reply = cluster
                .get(AUTHENTICATE, &path, &[("accept", "text/html")])
                .await;
            assert_contained(&reply, trick);
            if endpoint.ends_with("sign_in") {
                assert_eq!(
                    reply.status,
                    400,
                    "unsigned {endpoint} {trick}: {}",
                    reply.text()
                );
            }
            // Signed with the shared secret (a route host's own link): the address is still
            // checked against the routes.
            let mut url = Url::parse(&format!("http://{AUTHENTICATE}{endpoint}")).unwrap();
            url.query_pairs_mut().append_pair("redirect_uri", trick);
            let signed = signer.sign(url, SystemTime::now(), Duration::from_secs(300));
            let path = &signed.as_str()[signed.as_str().find(endpoint).unwrap()..];
            let reply = cluster
                .get(AUTHENTICATE, path, &[("accept", "text/html")])
                .await;
            assert_contained(&reply, trick);
            let fine = trick.starts_with("http://app.example.test/");
            if !fine {
                assert_eq!(
                    reply.status,
                    400,
                    "signed {endpoint} {trick}: {}",
                    reply.text()
                );
            }
        }
    }
}
