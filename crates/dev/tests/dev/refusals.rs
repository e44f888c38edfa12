//! What the provider refuses: replays, wrong verifiers and secrets, unregistered redirect
//! URIs, forged tokens, bad input.

use std::str::FromStr as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::CoreErrorResponseType;
use openidconnect::{
    ClaimsVerificationError, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    TokenResponse as _,
};
use serde_json::Value;

use crate::support::{
    CALLBACK, CLIENT_ID, IdToken, SECRET, attribute_after, exchange, json, location, query,
    start_idp,
};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_the_tokens_issued_from_it() {
    let idp = start_idp(HOUR).await;
    let (client, _) = idp.client(SECRET).await;
    let login = idp
        .login(&client, &["email"], "alice@example.com", "")
        .await;
    let verifier = login.verifier.secret().clone();
    let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
        .await
        .unwrap();
    let userinfo = |token: String| {
        idp.http
            .get(format!("{}/userinfo", idp.issuer))
            .bearer_auth(token)
            .send()
    };
    let token = tokens.access_token().secret().clone();
    assert_eq!(userinfo(token.clone()).await.unwrap().status(), 200);

    let replay = exchange(
        &client,
        &idp.http,
        &login.code,
        PkceCodeVerifier::new(verifier),
    )
    .await;
    assert_eq!(
        *replay.unwrap_err().error(),
        CoreErrorResponseType::InvalidGrant
    );
    let after = userinfo(token).await.unwrap();
    assert_eq!(after.status(), 401);
    let challenge = after.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_fails() {
    let idp = start_idp(HOUR).await;
    let (client, _) = idp.client(SECRET).await;
    let login = idp.login(&client, &[], "alice@example.com", "").await;
    let (_, wrong) = PkceCodeChallenge::new_random_sha256();
    let refused = exchange(&client, &idp.http, &login.code, wrong).await;
    assert_eq!(
        *refused.unwrap_err().error(),
        CoreErrorResponseType::InvalidGrant
    );
    // The attempt spent the code: not even the right verifier redeems it now.
    let late = exchange(&client, &idp.http, &login.code, login.verifier).await;
    assert_eq!(
        *late.unwrap_err().error(),
        CoreErrorResponseType::InvalidGrant
    );
}

#[tokio::test]
async fn a_wrong_client_secret_fails_without_spending_the_code() {
    let idp = start_idp(HOUR).await;
    let (client, _) = idp.client(SECRET).await;
    let (impostor, _) = idp.client("not-the-secret").await;
    let login = idp.login(&client, &[], "alice@example.com", "").await;
    let verifier = login.verifier.secret().clone();
    let refused = exchange(&impostor, &idp.http, &login.code, login.verifier).await;
    assert_eq!(
        *refused.unwrap_err().error(),
        CoreErrorResponseType::InvalidClient
    );
    let ok = exchange(
        &client,
        &idp.http,
        &login.code,
        PkceCodeVerifier::new(verifier),
    )
    .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_client_gets_a_page_not_a_redirect() {
    let idp = start_idp(HOUR).await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    for (client_id, redirect_uri) in [
        (CLIENT_ID, "http://evil.example/steal"),
        (CLIENT_ID, "http://authenticate.localhost/oauth2/callback/x"),
        ("someone-else", CALLBACK),
    ] {
        let response = idp
            .http
            .get(format!("{}/authorize", idp.issuer))
            .query(&[
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{client_id} {redirect_uri}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("not registered"), "{html}");
        assert!(!html.contains("<script"));
    }
}

#[tokio::test]
async fn protocol_errors_after_the_redirect_uri_is_trusted_go_back_as_error_redirects() {
    let idp = start_idp(HOUR).await;
    let response = idp
        .http
        .get(format!("{}/authorize", idp.issuer))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let back = location(&response);
    assert!(back.as_str().starts_with(CALLBACK));
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert!(query(&back, "error_description").unwrap().contains("PKCE"));
    assert_eq!(query(&back, "state").as_deref(), Some("xyz"));
    assert!(query(&back, "code").is_none());
}

#[tokio::test]
async fn a_bad_email_shows_the_form_again_and_cancel_is_access_denied() {
    let idp = start_idp(HOUR).await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let form = idp
        .http
        .get(format!("{}/authorize", idp.issuer))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "st"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let html = form.text().await.unwrap();
    let request_id = attribute_after(&html, "name=\"request_id\" value=\"");
    let post = |fields: Vec<(&'static str, String)>| {
        idp.http
            .post(format!("{}/authorize", idp.issuer))
            .form(&fields)
            .send()
    };
    let bad = post(vec![
        ("request_id", request_id.clone()),
        ("email", "<script>x</script>".into()),
    ])
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(html.contains("enter an email address"), "{html}");
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;") && !html.contains("<script>x"));

    let cancel = post(vec![
        ("request_id", request_id.clone()),
        ("action", "cancel".into()),
    ])
    .await
    .unwrap();
    assert_eq!(cancel.status(), 303);
    let back = location(&cancel);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("st"));

    let spent = post(vec![("request_id", request_id), ("email", "a@b.c".into())])
        .await
        .unwrap();
    assert_eq!(
        spent.status(),
        400,
        "a cancelled request cannot be completed"
    );
    let forged = post(vec![
        ("request_id", "forged".into()),
        ("email", "a@b.c".into()),
    ]);
    assert_eq!(forged.await.unwrap().status(), 400);
}

#[tokio::test]
async fn a_tampered_id_token_fails_verification() {
    let idp = start_idp(HOUR).await;
    let (client, _) = idp.client(SECRET).await;
    let login = idp
        .login(&client, &["email"], "alice@example.com", "")
        .await;
    let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
        .await
        .unwrap();
    let verifier = client.id_token_verifier();
    let original = tokens.id_token().unwrap().to_string();
    let parts: Vec<&str> = original.split('.').collect();

    // Another signature over the same header and claims.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 0x01;
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    let result = IdToken::from_str(&forged)
        .unwrap()
        .claims(&verifier, &login.nonce)
        .map(|_| ());
    assert!(
        matches!(
            result,
            Err(ClaimsVerificationError::SignatureVerification(_))
        ),
        "{result:?}"
    );

    // Other claims under the original signature.
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["email"] = "mallory@example.com".into();
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{claims}.{}", parts[0], parts[2]);
    let result = IdToken::from_str(&forged)
        .unwrap()
        .claims(&verifier, &login.nonce)
        .map(|_| ());
    assert!(
        matches!(
            result,
            Err(ClaimsVerificationError::SignatureVerification(_))
        ),
        "{result:?}"
    );

    // The untouched token still verifies, so the failures above are the tampering's.
    let untouched = IdToken::from_str(&original).unwrap();
    assert!(untouched.claims(&verifier, &login.nonce).is_ok());
}

#[tokio::test]
async fn the_token_and_userinfo_endpoints_answer_bad_requests_with_rfc_errors() {
    let idp = start_idp(HOUR).await;
    let token = format!("{}/token", idp.issuer);
    let send = |form: Vec<(&'static str, &'static str)>, basic: Option<(&str, &str)>| {
        let mut request = idp.http.post(&token).form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    let cases = [
        (
            vec![("grant_type", "password")],
            Some((CLIENT_ID, SECRET)),
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("code", "x")],
            Some((CLIENT_ID, SECRET)),
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "made-up"),
                ("redirect_uri", CALLBACK),
                (
                    "code_verifier",
                    "0123456789012345678901234567890123456789abc",
                ),
            ],
            Some((CLIENT_ID, SECRET)),
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "made-up"),
            ],
            Some((CLIENT_ID, SECRET)),
            400,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "refresh_token")],
            Some((CLIENT_ID, "wrong")),
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "refresh_token")],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
            ],
            Some((CLIENT_ID, SECRET)),
            400,
            "invalid_request",
        ),
    ];
    for (form, basic, status, error) in cases {
        let response = send(form.clone(), basic).await.unwrap();
        assert_eq!(response.status(), status, "{form:?}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = json(response).await;
        assert_eq!(body["error"], error, "{form:?}: {body}");
    }

    let userinfo = format!("{}/userinfo", idp.issuer);
    let none = idp.http.get(&userinfo).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let made_up = idp
        .http
        .post(&userinfo)
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), 401);
}
