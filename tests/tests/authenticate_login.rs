//! A browser's login through the real OpenID provider: the records it writes, the cookies it
//! sets, the handoff it ends in, and the second sign-in that skips the IdP.

#[path = "authenticate/support.rs"]
mod support;

use reqwest::StatusCode;
use support::{APP, Options, Store};

async fn full_login(store: Store) {
    let env = support::start(Options {
        store,
        ..Options::default()
    })
    .await;
    let browser = support::browser();
    let start = support::sign_in_url(&env, &format!("{APP}/dash?x=1"), false);

    // Hop 1: to the IdP, with PKCE S256, nonce, sealed state and a CSRF cookie.
    let first = support::get(&browser, &start).await;
    assert_eq!(first.status, StatusCode::FOUND, "{first:?}");
    let authorize = first.location.clone().unwrap();
    assert!(
        authorize.as_str().starts_with(env.provider.issuer()),
        "{authorize}"
    );
    let p = |name| support::param(&authorize, name);
    assert_eq!(p("response_type").as_deref(), Some("code"));
    assert_eq!(p("client_id").as_deref(), Some(support::CLIENT_ID));
    assert_eq!(p("code_challenge_method").as_deref(), Some("S256"));
    assert!(p("code_challenge").is_some_and(|c| c.len() == 43));
    assert!(p("nonce").is_some_and(|n| n.len() >= 32));
    assert!(
        p("state").is_some_and(|s| !s.contains("dash")),
        "the state is sealed"
    );
    let scope = p("scope").unwrap();
    assert!(
        scope.split(' ').filter(|s| *s == "openid").count() == 1,
        "{scope}"
    );
    assert_eq!(
        p("redirect_uri").unwrap(),
        env.base.join("/oauth2/callback").unwrap().as_str()
    );
    let csrf = support::set_cookie(&first, "_portcullis_csrf").expect("a CSRF cookie");
    for attribute in [
        "; Path=/",
        "; Secure",
        "; HttpOnly",
        "; SameSite=Lax",
        "; Max-Age=600",
    ] {
        assert!(csrf.contains(attribute), "{csrf} lacks {attribute}");
    }

    // The IdP's login and consent forms, then the callback.
    let done = support::login(&env, &browser, &start, "alice").await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let location = done.location.clone().unwrap();
    assert_eq!(location.host_str(), Some("app.example.com"));
    let (handle, token, redirect_uri) = support::open_handoff(&location);
    assert_eq!(redirect_uri.as_str(), format!("{APP}/dash?x=1"));
    assert_eq!(handle.user_id, "alice");

    // The authenticate cookie: the same handle, with the configured attributes.
    let cookie = support::set_cookie(&done, "_portcullis").expect("the session cookie");
    assert!(
        cookie.starts_with(&format!("_portcullis={token};")),
        "{cookie}"
    );
    for attribute in [
        "; Path=/",
        "; Secure",
        "; HttpOnly",
        "; SameSite=Lax",
        "; Max-Age=50400",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let cleared = support::set_cookie(&done, "_portcullis_csrf").expect("CSRF cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // The records.
    let (session, version) = support::session(&*env.storage, &handle.session_id)
        .await
        .expect("the session record the handle names");
    assert_eq!(version, handle.version);
    assert!(handle.session_id.len() >= 22, "128+ random bits");
    assert_eq!(session.user_id, "alice");
    assert!(session.expires_at > session.issued_at);
    assert_eq!(session.claims["sub"], "alice");
    assert_eq!(session.claims["iss"], env.provider.issuer());
    let tokens = session.oauth_token.as_ref().expect("OAuth tokens");
    assert!(!tokens.access_token.is_empty() && !tokens.refresh_token.is_empty());
    assert!(tokens.expires_at.is_some());
    assert!(session.id_token.expose().split('.').count() == 3);
    let user = support::user(&*env.storage, "alice")
        .await
        .expect("the user record");
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(user.name, "alice");
    assert_eq!(user.groups, ["admins", "staff"]);
    assert_eq!(support::sessions(&*env.storage).await.len(), 1);

    // Signed in on the authenticate host: a second sign-in skips the IdP.
    let again = support::get(
        &browser,
        &support::sign_in_url(&env, &format!("{APP}/other"), false),
    )
    .await;
    assert_eq!(again.status, StatusCode::FOUND);
    let (second, _, redirect_uri) = support::open_handoff(&again.location.unwrap());
    assert_eq!(second.session_id, handle.session_id);
    assert_eq!(redirect_uri.as_str(), format!("{APP}/other"));
    assert_eq!(support::sessions(&*env.storage).await.len(), 1);

    // The user page.
    let page = support::get(&browser, &env.base.join("/.portcullis/").unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("alice@example.com") && page.body.contains("admins"));
    assert!(page.body.contains("name=\"csrf\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_writes_records_sets_the_cookie_and_hands_off() {
    full_login(Store::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_works_on_postgres() {
    full_login(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_route_host_is_a_valid_return() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let start = support::sign_in_url(&env, "https://team.apps.example.com/", false);
    let done = support::login(&env, &browser, &start, "bob").await;
    let location = done.location.expect("a handoff");
    assert_eq!(location.host_str(), Some("team.apps.example.com"));
    let (handle, _, _) = support::open_handoff(&location);
    assert_eq!(handle.user_id, "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_the_user_page_says_so_and_health_answers() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let page = support::get(&browser, &env.base.join("/.portcullis/").unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Not signed in"));
    for path in ["/ping", "/healthz"] {
        let hop = support::get(&browser, &env.base.join(path).unwrap()).await;
        assert_eq!(hop.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_starts_without_the_idp_and_says_when_it_is_away() {
    let env = support::start(Options::default()).await;
    // The same configuration, but the IdP at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = url::Url::parse(&format!("http://{}", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let mut config = env.config.clone();
    config.idp.as_mut().unwrap().provider_url = dead;
    config.authenticate_service_url = Some(base.clone());
    let auth = std::sync::Arc::new(
        portcullis_authenticate::Authenticate::new(&config, std::sync::Arc::clone(&env.storage))
            .expect("built without reaching the IdP"),
    );
    let router = auth.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let mut url = base.join("/.portcullis/sign_in").unwrap();
    url.query_pairs_mut().append_pair("redirect_uri", APP);
    let url = portcullis_grpc::UrlSigner::new(&support::SHARED_SECRET).sign(
        url,
        std::time::SystemTime::now(),
        std::time::Duration::from_secs(60),
    );
    let hop = support::get(&support::browser(), &url).await;
    assert_eq!(hop.status, StatusCode::BAD_GATEWAY, "{hop:?}");
    assert!(
        hop.body.contains("identity provider cannot be reached"),
        "{}",
        hop.body
    );
    assert!(!hop.body.contains("127.0.0.1"), "no internals in the page");
    server.abort();
}
