//! RP-initiated logout: back to a registered URI with `state`, or a signed-out page.

use std::time::Duration;

use openidconnect::TokenResponse as _;

use crate::support::{SECRET, SIGNED_OUT, exchange, location, query, start_idp};

#[tokio::test]
async fn end_session_redirects_only_to_a_registered_uri() {
    let idp = start_idp(Duration::from_secs(3600)).await;
    let (client, metadata) = idp.client(SECRET).await;
    let end = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .unwrap();
    let login = idp.login(&client, &[], "alice@example.com", "").await;
    let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
        .await
        .unwrap();
    let hint = tokens.id_token().unwrap().to_string();

    let back = idp
        .http
        .get(end.url().clone())
        .query(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "bye-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let to = location(&back);
    assert!(to.as_str().starts_with(SIGNED_OUT), "{to}");
    assert_eq!(query(&to, "state").as_deref(), Some("bye-state"));

    let elsewhere = idp
        .http
        .get(end.url().clone())
        .query(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", "http://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);
    assert!(elsewhere.headers().get("location").is_none());

    let forged_hint = format!("{}x", &hint[..hint.len() - 1]);
    let forged = idp
        .http
        .get(end.url().clone())
        .query(&[
            ("id_token_hint", forged_hint.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "a hint this provider did not sign");

    let plain = idp.http.get(end.url().clone()).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.text().await.unwrap().contains("Signed out"));
}
