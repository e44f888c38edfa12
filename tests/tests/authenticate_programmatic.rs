//! Programmatic login: a command-line client's loopback `redirect_uri` receives a session
//! token that authorize accepts as `Authorization: Bearer Portcullis-<token>`.

#[path = "authenticate/support.rs"]
mod support;

use std::sync::Arc;

use portcullis_authorize::Engine;
use portcullis_grpc::SessionHandleCodec;
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Authorizer as _};
use reqwest::StatusCode;
use support::{APP, Options};

fn request(headers: &[(&str, &str)]) -> AuthorizeRequest {
    AuthorizeRequest {
        method: "GET".into(),
        scheme: "https".into(),
        host: "app.example.com".into(),
        path: "/api".into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..AuthorizeRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_programmatic_login_hands_the_loopback_client_a_bearer_token() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let loopback = "http://127.0.0.1:45678/callback?client=cli";
    let start = support::sign_in_url(&env, loopback, true);
    let done = support::login(&env, &browser, &start, "alice").await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let location = done.location.clone().unwrap();
    assert_eq!(
        location.origin().ascii_serialization(),
        "http://127.0.0.1:45678"
    );
    assert_eq!(location.path(), "/callback");
    assert_eq!(support::param(&location, "client").as_deref(), Some("cli"));
    let token = support::param(&location, "portcullis_token").expect("the token parameter");

    let handle = SessionHandleCodec::new(&support::COOKIE_SECRET)
        .open(&token)
        .expect("a session handle");
    let (session, _) = support::session(&*env.storage, &handle.session_id)
        .await
        .expect("the session it names");
    assert_eq!(session.user_id, "alice");

    // The real authorize engine over the same databroker allows it as a bearer token…
    let engine = Engine::new(&env.config, Arc::clone(&env.storage)).unwrap();
    let bearer = format!("Bearer Portcullis-{token}");
    match engine
        .authorize(&request(&[("authorization", &bearer)]))
        .await
    {
        AuthorizeDecision::Allow(allow) => {
            assert!(
                allow
                    .set_headers
                    .iter()
                    .any(|(k, _)| k == "x-portcullis-jwt-assertion")
            );
        }
        AuthorizeDecision::Deny(deny) => panic!("denied: {deny:?}"),
    }
    // …and without it, denies.
    match engine.authorize(&request(&[])).await {
        AuthorizeDecision::Deny(deny) => assert_eq!(deny.status, 401),
        AuthorizeDecision::Allow(_) => panic!("allowed without credentials"),
    }

    // A programmatic sign-in may not return to a route host (the token would ride in its
    // URL), and a browser sign-in may not return to loopback.
    let hop = support::get(&browser, &support::sign_in_url(&env, APP, true)).await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST);
    let hop = support::get(&browser, &support::sign_in_url(&env, loopback, false)).await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST);
}
