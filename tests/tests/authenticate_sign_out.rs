//! Sign-out on the authenticate host: the confirm page and its CSRF-protected form, the
//! signed sign-out a route host sends, the deleted session, the cleared cookie, and the
//! round trip through the IdP's end-session endpoint.

#[path = "authenticate/support.rs"]
mod support;

use reqwest::StatusCode;
use std::time::{Duration, SystemTime};
use support::{APP, Env, Options};

use portcullis_grpc::{SessionHandle, UrlSigner};

async fn signed_in(env: &Env, browser: &reqwest::Client) -> SessionHandle {
    let done = support::login(
        env,
        browser,
        &support::sign_in_url(env, APP, false),
        "alice",
    )
    .await;
    let (handle, _, _) = support::open_handoff(&done.location.expect("a handoff"));
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_some()
    );
    handle
}

/// Checks the redirect to the IdP's end-session endpoint, confirms there, and returns the
/// IdP's redirect back to us.
async fn through_idp_logout(
    env: &Env,
    browser: &reqwest::Client,
    hop: &support::Hop,
) -> support::Hop {
    assert_eq!(hop.status, StatusCode::FOUND, "{hop:?}");
    let end = hop.location.clone().unwrap();
    assert!(
        end.as_str()
            .starts_with(&format!("{}/session/end", env.provider.issuer())),
        "{end}"
    );
    assert_eq!(
        support::param(&end, "client_id").as_deref(),
        Some(support::CLIENT_ID)
    );
    assert_eq!(
        support::param(&end, "post_logout_redirect_uri").unwrap(),
        env.base.join("/.portcullis/signed_out").unwrap().as_str()
    );
    let confirm = support::get(browser, &end).await;
    assert_eq!(
        confirm.status,
        StatusCode::OK,
        "the IdP accepts the logout: {confirm:?}"
    );
    let back = support::submit(browser, &confirm, &[("logout", "yes")]).await;
    let location = back
        .location
        .clone()
        .expect("the IdP sends the browser back");
    assert_eq!(location.path(), "/.portcullis/signed_out", "{location}");
    support::get(browser, &location).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirm_form_signs_out_and_ends_the_idp_session() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let handle = signed_in(&env, &browser).await;

    let page = support::get(&browser, &env.base.join("/.portcullis/sign_out").unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("method=\"post\"") && page.body.contains("name=\"csrf\""));
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_some(),
        "GET changes nothing"
    );

    // A forged form (no valid token) is refused and signs nobody out.
    let sign_out = env.base.join("/.portcullis/sign_out").unwrap();
    let forged = support::post(&browser, &sign_out, &[("csrf".into(), "forged".into())]).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_some()
    );
    // A token from another browser's page is bound to that browser's (no) session.
    let stranger = support::browser();
    let their_page = support::get(&stranger, &sign_out).await;
    let their_token = their_page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap();
    let their_token = &their_token[..their_token.find('"').unwrap()];
    let crossed = support::post(&browser, &sign_out, &[("csrf".into(), their_token.into())]).await;
    assert_eq!(crossed.status, StatusCode::BAD_REQUEST);
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_some()
    );

    let hop = support::submit(&browser, &page, &[]).await;
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_none(),
        "deleted"
    );
    let cleared = support::set_cookie(&hop, "_portcullis").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let end = hop.location.clone().unwrap();
    let hint = support::param(&end, "id_token_hint").expect("id_token_hint");
    assert_eq!(hint.split('.').count(), 3);

    let landed = through_idp_logout(&env, &browser, &hop).await;
    assert_eq!(landed.status, StatusCode::OK);
    assert!(landed.body.contains("signed out"), "{}", landed.body);

    // Signed out at the IdP too: a new sign-in meets the IdP's login form again.
    let again = support::get(&browser, &support::sign_in_url(&env, APP, false)).await;
    let authorize = again.location.unwrap();
    assert!(
        authorize.as_str().starts_with(env.provider.issuer()),
        "not skipped: {authorize}"
    );
    let interaction = support::get(&browser, &authorize).await;
    let login_page = support::get(&browser, &interaction.location.unwrap()).await;
    assert!(
        login_page.body.contains("name=\"login\""),
        "{}",
        login_page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_hosts_signed_sign_out_returns_there() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let handle = signed_in(&env, &browser).await;

    let mut url = env.base.join("/.portcullis/sign_out").unwrap();
    url.query_pairs_mut()
        .append_pair("redirect_uri", &format!("{APP}/bye"));
    // Unsigned, it is only the confirm page.
    let unsigned = support::get(&browser, &url).await;
    assert_eq!(unsigned.status, StatusCode::OK);
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_some()
    );

    let signer = UrlSigner::new(&support::SHARED_SECRET);
    let signed = signer.sign(url, SystemTime::now(), Duration::from_secs(60));
    let hop = support::get(&browser, &signed).await;
    assert!(
        support::session(&*env.storage, &handle.session_id)
            .await
            .is_none(),
        "deleted"
    );
    let landed = through_idp_logout(&env, &browser, &hop).await;
    assert_eq!(landed.status, StatusCode::FOUND, "{landed:?}");
    assert_eq!(landed.location.unwrap().as_str(), format!("{APP}/bye"));

    // A signed sign-out may not return to a foreign host.
    let mut evil = env.base.join("/.portcullis/sign_out").unwrap();
    evil.query_pairs_mut()
        .append_pair("redirect_uri", "https://evil.example.com/");
    let evil = signer.sign(evil, SystemTime::now(), Duration::from_secs(60));
    let hop = support::get(&browser, &evil).await;
    assert_eq!(hop.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_hosts_id_token_hint_reaches_the_idp_when_the_session_is_already_gone() {
    let env = support::start(Options::default()).await;
    let browser = support::browser();
    let handle = signed_in(&env, &browser).await;
    let id_token = support::session(&*env.storage, &handle.session_id)
        .await
        .expect("the session")
        .0
        .id_token
        .expose()
        .to_owned();
    // The route host deleted the session before sending the browser here, with its ID token.
    env.storage
        .put(vec![portcullis_databroker::RecordWrite::delete(
            portcullis_proto::Session::TYPE,
            &handle.session_id,
        )])
        .await
        .unwrap();
    let mut url = env.base.join("/.portcullis/sign_out").unwrap();
    url.query_pairs_mut()
        .append_pair("redirect_uri", &format!("{APP}/bye"))
        .append_pair("id_token_hint", &id_token);
    let signed = UrlSigner::new(&support::SHARED_SECRET).sign(
        url,
        SystemTime::now(),
        Duration::from_secs(60),
    );
    let hop = support::get(&browser, &signed).await;
    let end = hop
        .location
        .clone()
        .expect("to the IdP's end-session endpoint");
    assert_eq!(support::param(&end, "id_token_hint"), Some(id_token));
    let landed = through_idp_logout(&env, &browser, &hop).await;
    assert_eq!(landed.location.unwrap().as_str(), format!("{APP}/bye"));
}
