//! Portcullis' own endpoints on route hosts — `/ping`, `/healthz`, the JWKS, the login
//! callback, sign-out, the user page, the programmatic login API — the deny responses that
//! authorize asks for, and the all-in-one authenticate host.

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::StatusCode;
use portcullis_grpc::{Handoff, HandoffCodec, UrlSigner};
use portcullis_proto::Session;
use support::{BROWSER, Harness, SHARED_SECRET, app_admin_public, query};
use upstreams::Upstream;
use url::Url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_healthz_and_jwks_on_every_host() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&app_admin_public(&up.url())).await;
    for host in ["app.example.com", "unknown.example.org", "10.1.2.3:8080"] {
        for path in ["/ping", "/healthz"] {
            let reply = proxy.get(host, path, &[]).await;
            assert_eq!(
                (reply.status, reply.text().as_str()),
                (StatusCode::OK, "OK\n"),
                "{host}{path}"
            );
        }
    }
    let reply = proxy
        .get("app.example.com", "/.well-known/portcullis/jwks.json", &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let jwks = reply.json();
    let expected = serde_json::to_value(proxy.engine.signing_key().jwks()).unwrap();
    assert_eq!(jwks, expected);
    assert!(jwks["keys"][0]["kid"].is_string());
    assert!(up.seen().is_empty(), "none of these reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denies_are_answered_as_authorize_says() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&app_admin_public(&up.url())).await;
    let browser = proxy.get("app.example.com", "/dash?x=1", &[BROWSER]).await;
    assert_eq!(browser.status, StatusCode::FOUND);
    let location = Url::parse(browser.header("location").unwrap()).unwrap();
    let clean = UrlSigner::new(&SHARED_SECRET)
        .verify(&location, SystemTime::now())
        .expect("a signed sign-in URL");
    assert_eq!(clean.host_str(), Some("auth.example.com"));
    assert_eq!(clean.path(), "/.portcullis/sign_in");
    assert_eq!(
        query(&clean, "redirect_uri").as_deref(),
        Some("https://app.example.com/dash?x=1")
    );
    let api = proxy.get("app.example.com", "/dash", &[]).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let bob = proxy.login("bob", "bob@example.com", &[]).await;
    let forbidden = proxy
        .get("admin.example.com", "/", &[("cookie", &bob.cookie())])
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(up.seen().is_empty());
    let allowed = proxy
        .get("app.example.com", "/", &[("cookie", &bob.cookie())])
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_sets_the_session_cookie_for_its_own_host_only() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&app_admin_public(&up.url())).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let codec = HandoffCodec::new(&SHARED_SECRET);
    let handoff = |redirect: &str| Handoff {
        token: alice.token.clone(),
        redirect_uri: Url::parse(redirect).unwrap(),
    };
    let path = |url: Url| format!("{}?{}", url.path(), url.query().unwrap());

    let url = codec.callback_url(
        &handoff("https://app.example.com/dash?x=1"),
        SystemTime::now(),
    );
    let reply = proxy.get("app.example.com", &path(url), &[BROWSER]).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert_eq!(
        reply.header("location"),
        Some("https://app.example.com/dash?x=1")
    );
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1);
    let cookie = &cookies[0];
    assert!(
        cookie.starts_with(&format!("_portcullis={};", alice.token)),
        "{cookie}"
    );
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    // The cookie it set opens the route.
    let pair = cookie.split(';').next().unwrap();
    let reply = proxy
        .get("app.example.com", "/dash", &[("cookie", pair)])
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    // A handoff made for another host, a tampered one and an expired one: 400, no cookie.
    let foreign = codec.callback_url(&handoff("https://public.example.com/"), SystemTime::now());
    let long_ago = SystemTime::now() - Duration::from_secs(600);
    let expired = codec.callback_url(&handoff("https://app.example.com/"), long_ago);
    let mut tampered =
        path(codec.callback_url(&handoff("https://app.example.com/"), SystemTime::now()));
    tampered.push('A');
    for bad in [
        path(foreign),
        path(expired),
        tampered,
        "/.portcullis/callback".to_owned(),
    ] {
        let reply = proxy.get("app.example.com", &bad, &[BROWSER]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.set_cookies().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_needs_a_same_site_post_with_its_csrf_token() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&app_admin_public(&up.url())).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let cookie = alice.cookie();

    let page = proxy
        .get(
            "app.example.com",
            "/.portcullis/sign_out",
            &[("cookie", &cookie), BROWSER],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<form method=\"post\""), "{html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the form")
        .to_owned();

    let post = |body: String, extra: Vec<(&'static str, &'static str)>| {
        let proxy = &proxy;
        let cookie = cookie.clone();
        async move {
            let mut headers = vec![
                ("cookie", cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ];
            headers.extend(extra);
            proxy
                .call(
                    "POST",
                    "app.example.com",
                    "/.portcullis/sign_out",
                    &headers,
                    Bytes::from(body),
                )
                .await
        }
    };
    let same_site = vec![
        ("sec-fetch-site", "same-origin"),
        ("origin", "https://app.example.com"),
    ];
    assert_eq!(
        post(String::new(), same_site.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post("csrf=forged".into(), same_site.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let cross = post(
        format!("csrf={csrf}"),
        vec![("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(
        cross.status,
        StatusCode::FORBIDDEN,
        "cross-site even with the token"
    );
    let other_origin = post(
        format!("csrf={csrf}"),
        vec![("origin", "https://evil.example.net")],
    )
    .await;
    assert_eq!(other_origin.status, StatusCode::FORBIDDEN);
    let record = proxy
        .databroker
        .get(Session::TYPE, &alice.handle.session_id)
        .await
        .unwrap();
    assert!(record.is_some(), "refused sign-outs delete nothing");

    let done = post(format!("csrf={csrf}&redirect_uri=%2Fbye"), same_site).await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.text());
    let location = Url::parse(done.header("location").unwrap()).unwrap();
    let clean = UrlSigner::new(&SHARED_SECRET)
        .verify(&location, SystemTime::now())
        .expect("a signed authenticate sign-out URL");
    assert_eq!(clean.host_str(), Some("auth.example.com"));
    assert_eq!(clean.path(), "/.portcullis/sign_out");
    assert_eq!(
        query(&clean, "redirect_uri").as_deref(),
        Some("https://app.example.com/bye")
    );
    assert_eq!(
        query(&clean, "id_token_hint").as_deref(),
        Some("id-token"),
        "the deleted session's ID token goes along for the IdP's end-session endpoint"
    );
    let cleared = &done.set_cookies()[0];
    assert!(
        cleared.starts_with("_portcullis=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let record = proxy
        .databroker
        .get(Session::TYPE, &alice.handle.session_id)
        .await
        .unwrap();
    assert!(record.is_none(), "the session record is deleted");
    let probe = || {
        let proxy = &proxy;
        let cookie = cookie.clone();
        async move {
            proxy
                .get("app.example.com", "/", &[("cookie", &cookie)])
                .await
                .status
        }
    };
    let mut status = probe().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while status != StatusCode::UNAUTHORIZED && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        status = probe().await;
    }
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old cookie no longer works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_page_and_the_login_api() {
    let up = Upstream::http("up").await;
    let proxy = Harness::start(&app_admin_public(&up.url())).await;
    let carol = proxy
        .login("carol", "carol@example.com", &["staff", "ops"])
        .await;
    let page = proxy
        .get(
            "app.example.com",
            "/.portcullis/",
            &[("cookie", &carol.cookie()), BROWSER],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    for expected in [
        "carol@example.com",
        "Name of carol",
        "staff, ops",
        "Session expires",
        "action=\"/.portcullis/sign_out\"",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }
    // Signed in but not allowed on the route: still shown.
    let page = proxy
        .get(
            "admin.example.com",
            "/.portcullis/",
            &[("cookie", &carol.cookie()), BROWSER],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let anonymous = proxy
        .get("app.example.com", "/.portcullis/", &[BROWSER])
        .await;
    assert_eq!(anonymous.status, StatusCode::FOUND, "sent to sign in");

    let login = proxy
        .get(
            "app.example.com",
            "/.portcullis/api/v1/login?redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fcb",
            &[],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let url = Url::parse(login.text().trim()).unwrap();
    let clean = UrlSigner::new(&SHARED_SECRET)
        .verify(&url, SystemTime::now())
        .unwrap();
    assert_eq!(clean.path(), "/.portcullis/sign_in");
    assert_eq!(
        query(&clean, "redirect_uri").as_deref(),
        Some("http://127.0.0.1:8000/cb")
    );
    assert_eq!(query(&clean, "programmatic").as_deref(), Some("true"));
    let later = SystemTime::now() + Duration::from_secs(10 * 60);
    assert!(
        UrlSigner::new(&SHARED_SECRET).verify(&url, later).is_err(),
        "valid 5 minutes"
    );
    for bad in [
        "https%3A%2F%2Fevil.example.com%2F",
        "http%3A%2F%2Fevil.example.com%2F",
        "",
    ] {
        let reply = proxy
            .get(
                "app.example.com",
                &format!("/.portcullis/api/v1/login?redirect_uri={bad}"),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authenticate_host_goes_to_the_authenticate_service() {
    let up = Upstream::http("up").await;
    let config = support::config("insecure_server: true\n", &app_admin_public(&up.url()));
    let service = portcullis_proxy::HostService::new(tower::service_fn(
        |request: http::Request<hyper::body::Incoming>| async move {
            use http_body_util::BodyExt as _;
            let text = format!("authenticate saw {}", request.uri().path());
            let body = http_body_util::Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed_unsync();
            Ok::<_, std::convert::Infallible>(http::Response::new(body))
        },
    ));
    let proxy = Harness::serve_with_authenticate(config, Some(service)).await;
    let reply = proxy
        .get("auth.example.com", "/.portcullis/sign_in", &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "authenticate saw /.portcullis/sign_in");
    let reply = proxy.get("app.example.com", "/", &[]).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "other hosts are routes as usual"
    );
}
