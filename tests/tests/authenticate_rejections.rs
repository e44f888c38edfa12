//! Every way a login can be tampered with ends in a clear 4xx page and writes no session:
//! unsigned or foreign sign-in URLs, a changed `state`, a missing CSRF cookie, a replayed
//! code, a state and code from two different logins, and an ID token with the wrong nonce.

#[path = "authenticate/support.rs"]
mod support;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_grpc::{Sealer, UrlSigner};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use support::{APP, Env, Hop, Options};
use url::Url;

/// A 400 page saying `words`, and still no session record.
async fn rejected(env: &Env, hop: &Hop, words: &str) {
    assert_eq!(hop.status, StatusCode::BAD_REQUEST, "{hop:?}");
    assert!(hop.body.contains(words), "{words:?} not in {}", hop.body);
    assert!(hop.location.is_none());
    assert!(support::set_cookie(hop, "_portcullis").is_none());
    assert!(
        support::sessions(&*env.storage).await.is_empty(),
        "a session was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_urls_must_be_signed_and_return_to_a_route_host() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();

    let mut unsigned = env.base.join("/.portcullis/sign_in").unwrap();
    unsigned.query_pairs_mut().append_pair("redirect_uri", APP);
    let hop = support::get(&browser, &unsigned).await;
    rejected(&env, &hop, "invalid or has expired").await;

    let signed = support::sign_in_url(&env, APP, false);
    let tampered = Url::parse(
        &signed
            .as_str()
            .replace("app.example.com", "evil.example.com"),
    )
    .unwrap();
    let hop = support::get(&browser, &tampered).await;
    rejected(&env, &hop, "invalid or has expired").await;

    let old = {
        let mut url = env.base.join("/.portcullis/sign_in").unwrap();
        url.query_pairs_mut().append_pair("redirect_uri", APP);
        let past = SystemTime::now() - Duration::from_secs(3600);
        UrlSigner::new(&support::SHARED_SECRET).sign(url, past, Duration::from_secs(300))
    };
    let hop = support::get(&browser, &old).await;
    rejected(&env, &hop, "invalid or has expired").await;

    for (foreign, programmatic) in [
        ("https://evil.example.com/", false),
        ("https://app.example.com.evil.com/", false),
        ("http://app.example.com/", false),
        ("http://127.0.0.1:5555/", false),
        ("https://app.example.com/", true),
        ("http://10.0.0.1:5555/", true),
    ] {
        let hop = support::get(&browser, &support::sign_in_url(&env, foreign, programmatic)).await;
        rejected(&env, &hop, "not an application of this cluster").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_state_or_a_missing_csrf_cookie_is_refused() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let start = support::sign_in_url(&env, APP, false);
    let callback = support::to_callback(&env, &browser, &start, "alice").await;

    // The state, changed by one character.
    let state = support::param(&callback, "state").unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(&state).unwrap();
    bytes[20] ^= 1;
    let mut changed = callback.clone();
    changed
        .query_pairs_mut()
        .clear()
        .append_pair("code", &support::param(&callback, "code").unwrap())
        .append_pair("state", &URL_SAFE_NO_PAD.encode(&bytes));
    let hop = support::get(&browser, &changed).await;
    rejected(&env, &hop, "sign-in attempt is invalid or has expired").await;

    // The right state and code, from a browser without the CSRF cookie (login CSRF).
    let other = support::browser();
    let hop = support::get(&other, &callback).await;
    rejected(&env, &hop, "sign-in attempt is invalid or has expired").await;

    // Without a state at all.
    let mut bare = callback.clone();
    bare.query_pairs_mut()
        .clear()
        .append_pair("code", &support::param(&callback, "code").unwrap());
    let hop = support::get(&browser, &bare).await;
    rejected(&env, &hop, "sign-in attempt is invalid or has expired").await;

    // The untouched callback still works: the failures above were about what changed.
    let hop = support::get(&browser, &callback).await;
    assert_eq!(hop.status, StatusCode::FOUND, "{hop:?}");
    assert_eq!(support::sessions(&*env.storage).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_is_refused_by_the_idp() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let start = support::sign_in_url(&env, APP, false);
    let first = support::get(&browser, &start).await;
    let csrf = support::set_cookie(&first, "_portcullis_csrf").unwrap();
    let csrf = csrf.split(';').next().unwrap().to_owned();
    let callback = support::to_callback(&env, &browser, &start, "alice").await;
    let hop = support::get(&browser, &callback).await;
    assert_eq!(hop.status, StatusCode::FOUND, "{hop:?}");
    let live = support::sessions(&*env.storage).await;
    assert_eq!(live.len(), 1);

    // The same callback again, CSRF cookie and all: the IdP refuses the used code.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(callback.clone())
        .header(COOKIE, &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let body = replay.text().await.unwrap();
    assert!(body.contains("rejected the sign-in code"), "{body}");
    let after = support::sessions(&*env.storage).await;
    assert_eq!(after.len(), 1, "no second session");
    assert_eq!(after[0].id, live[0].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_from_one_login_with_the_code_of_another_is_refused() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    // Two logins in one browser (they share its CSRF cookie): A's state with B's code.
    let a = support::to_callback(
        &env,
        &browser,
        &support::sign_in_url(&env, APP, false),
        "alice",
    )
    .await;
    let b = support::to_callback(
        &env,
        &browser,
        &support::sign_in_url(&env, APP, false),
        "alice",
    )
    .await;
    let mut mixed = a.clone();
    mixed
        .query_pairs_mut()
        .clear()
        .append_pair("code", &support::param(&b, "code").unwrap())
        .append_pair("state", &support::param(&a, "state").unwrap());
    let hop = support::get(&browser, &mixed).await;
    // B's code was issued for B's PKCE challenge: A's verifier does not redeem it.
    rejected(&env, &hop, "rejected the sign-in code").await;
}

/// A login begun by hand (the test holds `cookie_secret`): our sealed state expects
/// `expected` as nonce, the IdP is asked for `sent`, and the PKCE pair matches, so the
/// nonce is all that can differ. Returns the callback's status and page.
async fn crafted_login(env: &Env, expected: &str, sent: &str) -> (StatusCode, String) {
    let browser = support::browser();
    let verifier = URL_SAFE_NO_PAD.encode([9u8; 32]);
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let csrf = URL_SAFE_NO_PAD.encode([5u8; 32]);
    // The layout of `LoginState` (crates/authenticate/src/login_state.rs).
    let state = serde_json::json!({
        "csrf": csrf,
        "nonce": expected,
        "pkce_verifier": verifier,
        "redirect_uri": format!("{APP}/"),
        "programmatic": false,
    });
    let state = Sealer::new(&support::COOKIE_SECRET, "oidc-state").seal_until(
        state.to_string().as_bytes(),
        SystemTime::now(),
        Duration::from_secs(600),
    );
    let discovery = browser
        .get(format!(
            "{}/.well-known/openid-configuration",
            env.provider.issuer()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let discovery: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    let mut authorize = Url::parse(discovery["authorization_endpoint"].as_str().unwrap()).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", support::CLIENT_ID)
        .append_pair(
            "redirect_uri",
            env.base.join("/oauth2/callback").unwrap().as_str(),
        )
        .append_pair("scope", "openid email")
        .append_pair("state", &state)
        .append_pair("nonce", sent)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let callback = support::to_callback(env, &browser, &authorize, "alice").await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(callback)
        .header(COOKIE, format!("_portcullis_csrf={csrf}"))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_with_another_nonce_is_refused() {
    let env = support::start(Options::default()).await;
    let (status, body) = crafted_login(&env, "the-nonce-we-expect", "a-different-nonce").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("answer did not verify"), "{body}");
    assert!(support::sessions(&*env.storage).await.is_empty());
    // The same hand-made login with the nonce we expect succeeds: only the nonce differed.
    let (status, body) = crafted_login(&env, "the-nonce-we-expect", "the-nonce-we-expect").await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    assert_eq!(support::sessions(&*env.storage).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_from_the_idp_is_shown_not_followed() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let mut url = env.base.join("/oauth2/callback").unwrap();
    url.query_pairs_mut()
        .append_pair("error", "access_denied<script>")
        .append_pair("state", "x");
    let hop = support::get(&browser, &url).await;
    rejected(&env, &hop, "did not complete the sign-in").await;
    assert!(hop.body.contains("access_denied") && !hop.body.contains("<script>"));
}
