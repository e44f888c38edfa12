//! Forward-auth at `/.portcullis/verify` (the Traefik / Caddy / nginx header styles): the
//! decision for the original request of trusted gateways, `401` vs `302`, and untrusted
//! peers refused. `proxy_nginx.rs` runs a real nginx against it.

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use std::time::SystemTime;

use http::StatusCode;
use portcullis_grpc::UrlSigner;
use support::{BROWSER, Harness, SHARED_SECRET, app_admin_public, query};
use upstreams::Upstream;
use url::Url;

const FORWARD_AUTH: &str = "insecure_server: true\nforward_auth_trusted_addresses: [127.0.0.0/8]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_answers_for_the_original_request_of_trusted_gateways() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start_with(FORWARD_AUTH, &app_admin_public(&up.url())).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let verify = |headers: Vec<(&'static str, String)>, path: &'static str| {
        let proxy = &proxy;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            proxy.get("portcullis.internal", path, &headers).await
        }
    };
    let traefik = |host: &str, uri: &str| {
        vec![
            ("x-forwarded-method", "GET".to_owned()),
            ("x-forwarded-proto", "https".to_owned()),
            ("x-forwarded-host", host.to_owned()),
            ("x-forwarded-uri", uri.to_owned()),
        ]
    };

    let mut allowed = traefik("app.example.com", "/dash");
    allowed.push(("cookie", alice.cookie()));
    let reply = verify(allowed, "/.portcullis/verify").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply
            .header("x-portcullis-jwt-assertion")
            .map(|j| j.split('.').count()),
        Some(3)
    );
    assert_eq!(reply.header("x-email"), Some("alice@example.com"));

    let api = verify(traefik("app.example.com", "/dash"), "/.portcullis/verify").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let mut browser = traefik("app.example.com", "/dash?a=b");
    browser.push((BROWSER.0, BROWSER.1.to_owned()));
    let reply = verify(browser.clone(), "/.portcullis/verify").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "nginx needs a 401");
    let location = Url::parse(reply.header("location").expect("where to sign in")).unwrap();
    let clean = UrlSigner::new(&SHARED_SECRET)
        .verify(&location, SystemTime::now())
        .unwrap();
    assert_eq!(
        query(&clean, "redirect_uri").as_deref(),
        Some("https://app.example.com/dash?a=b")
    );
    let redirect = verify(browser, "/.portcullis/verify?redirect=true").await;
    assert_eq!(
        redirect.status,
        StatusCode::FOUND,
        "Traefik and Caddy pass the 302 on"
    );

    let mut forbidden = traefik("admin.example.com", "/");
    forbidden.push(("cookie", alice.cookie()));
    assert_eq!(
        verify(forbidden, "/.portcullis/verify").await.status,
        StatusCode::FORBIDDEN
    );
    let mut no_route = traefik("nothing.example.com", "/");
    no_route.push(("cookie", alice.cookie()));
    assert_eq!(
        verify(no_route, "/.portcullis/verify").await.status,
        StatusCode::FORBIDDEN
    );

    // nginx style, with a path trick that normalizes to the same decision.
    let nginx = vec![
        (
            "x-original-url",
            "https://app.example.com/x/../dash".to_owned(),
        ),
        ("x-original-method", "POST".to_owned()),
        ("cookie", alice.cookie()),
    ];
    assert_eq!(
        verify(nginx, "/.portcullis/verify").await.status,
        StatusCode::OK
    );
    assert!(up.seen().is_empty(), "verify never forwards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_refuses_untrusted_peers() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start_with(
        "insecure_server: true\nforward_auth_trusted_addresses: [10.0.0.0/8]\n",
        &app_admin_public(&up.url()),
    )
    .await;
    let reply = proxy
        .get(
            "portcullis.internal",
            "/.portcullis/verify",
            &[
                ("x-forwarded-host", "public.example.com"),
                ("x-forwarded-uri", "/"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text().contains("forward_auth_trusted_addresses"));
}
