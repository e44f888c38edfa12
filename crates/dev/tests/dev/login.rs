//! The whole code flow as a relying party sees it, verified by openidconnect.

use std::time::Duration;

use openidconnect::core::CoreGenderClaim;
use openidconnect::{
    AccessToken, AccessTokenHash, AuthType, Nonce, OAuth2TokenResponse, RefreshToken,
    TokenResponse as _, UserInfoClaims,
};
use serde_json::Value;

use crate::support::{CLIENT_ID, Groups, SECRET, exchange, json, start_idp, start_idp_at};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn discovery_states_the_endpoints_and_capabilities() {
    let idp = start_idp(HOUR).await;
    let url = format!("{}/.well-known/openid-configuration", idp.issuer);
    let doc = json(idp.http.get(url).send().await.unwrap()).await;
    assert_eq!(doc["issuer"], idp.issuer.as_str());
    assert!(!idp.issuer.ends_with('/'));
    for (key, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/end_session"),
    ] {
        assert_eq!(doc[key], format!("{}{path}", idp.issuer), "{key}");
    }
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    // openidconnect's own discovery (issuer match, JWKS fetch) accepts it, and reads
    // the end-session endpoint.
    let (_, metadata) = idp.client(SECRET).await;
    let end = metadata.additional_metadata().end_session_endpoint.as_ref();
    assert_eq!(end.unwrap().url().path(), "/end_session");
}

#[tokio::test]
async fn a_login_yields_a_verified_id_token_userinfo_and_refreshable_tokens() {
    let idp = start_idp(HOUR).await;
    let (client, _) = idp.client(SECRET).await;
    let scopes = ["email", "profile", "offline_access"];
    let login = idp
        .login(&client, &scopes, "Alice@Example.com", "admins, devs")
        .await;
    let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
        .await
        .unwrap();

    // The ID token: signature (JWKS), issuer, audience, expiry, nonce, at_hash.
    let verifier = client.id_token_verifier();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&verifier, &login.nonce).unwrap();
    assert_eq!(claims.issuer().as_str(), idp.issuer);
    assert_eq!(claims.audiences()[0].as_str(), CLIENT_ID);
    assert_eq!(claims.email().unwrap().as_str(), "Alice@Example.com");
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.additional_claims().groups, ["admins", "devs"]);
    assert!(claims.subject().as_str().starts_with("dev-"));
    let alg = id_token.signing_alg().unwrap();
    let key = id_token.signing_key(&verifier).unwrap();
    let at_hash = AccessTokenHash::from_token(tokens.access_token(), alg, key).unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    let expires_in = tokens.expires_in().unwrap();
    assert_eq!(expires_in, HOUR);
    assert_eq!(tokens.token_type().as_ref(), "bearer");

    // The kid in the header is the JWKS key's.
    let jwks = json(
        idp.http
            .get(format!("{}/jwks", idp.issuer))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let header = id_token.to_string();
    let header = header.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&b64(header)).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    assert!(jwks["keys"][0].get("d").is_none());

    // Userinfo, with the subject openidconnect expects.
    let info: UserInfoClaims<Groups, CoreGenderClaim> = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&idp.http)
        .await
        .unwrap();
    assert_eq!(info.email().unwrap().as_str(), "Alice@Example.com");
    assert_eq!(info.additional_claims().groups, ["admins", "devs"]);

    // Refresh: new tokens, a new ID token for the same subject, rotation.
    let first_refresh = tokens
        .refresh_token()
        .expect("offline_access gives one")
        .clone();
    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&idp.http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let second_refresh = refreshed.refresh_token().unwrap();
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    let any_nonce = |_: Option<&Nonce>| Ok(());
    let again = refreshed
        .id_token()
        .unwrap()
        .claims(&verifier, any_nonce)
        .unwrap();
    assert_eq!(again.subject(), claims.subject());
    assert!(again.nonce().is_none());
    let info: UserInfoClaims<Groups, CoreGenderClaim> = client
        .user_info(refreshed.access_token().clone(), None)
        .unwrap()
        .request_async(&idp.http)
        .await
        .unwrap();
    assert_eq!(info.subject(), claims.subject());

    // The rotated-out refresh token is refused (and revokes the grant).
    let reused = client
        .exchange_refresh_token(&RefreshToken::new(first_refresh.secret().clone()))
        .unwrap()
        .request_async(&idp.http)
        .await;
    assert!(reused.is_err());
    let revoked = client
        .user_info(
            AccessToken::new(refreshed.access_token().secret().clone()),
            None,
        )
        .unwrap()
        .request_async::<Groups, _, CoreGenderClaim>(&idp.http)
        .await;
    assert!(
        revoked.is_err(),
        "tokens of a reused refresh token's grant are revoked"
    );
}

#[tokio::test]
async fn client_secret_post_works_and_no_offline_access_means_no_refresh_token() {
    let idp = start_idp(Duration::from_secs(90)).await;
    let (client, _) = idp.client(SECRET).await;
    let client = client.set_auth_type(AuthType::RequestBody);
    let login = idp.login(&client, &["email"], "bob@example.com", "").await;
    let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
        .await
        .unwrap();
    assert!(tokens.refresh_token().is_none());
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(90)));
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &login.nonce)
        .unwrap();
    assert_eq!(claims.email().unwrap().as_str(), "bob@example.com");
    assert!(claims.additional_claims().groups.is_empty());
}

#[tokio::test]
async fn the_same_email_is_the_same_subject_across_logins() {
    let idp = start_idp(HOUR).await;
    let (client, _) = idp.client(SECRET).await;
    let mut subjects = Vec::new();
    for email in ["carol@example.com", "CAROL@example.com", "dave@example.com"] {
        let login = idp.login(&client, &[], email, "").await;
        let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
            .await
            .unwrap();
        let verifier = client.id_token_verifier();
        let claims = tokens
            .id_token()
            .unwrap()
            .claims(&verifier, &login.nonce)
            .unwrap();
        subjects.push(claims.subject().to_string());
    }
    assert_eq!(subjects[0], subjects[1]);
    assert_ne!(subjects[0], subjects[2]);
}

fn b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn an_issuer_with_a_path_serves_its_endpoints_under_it() {
    let idp = start_idp_at("/dev/", HOUR).await;
    assert!(idp.issuer.ends_with("/dev"), "{}", idp.issuer);
    let (client, _) = idp.client(SECRET).await;
    let login = idp.login(&client, &[], "erin@example.com", "").await;
    let tokens = exchange(&client, &idp.http, &login.code, login.verifier)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &login.nonce)
        .unwrap();
    assert_eq!(claims.issuer().as_str(), idp.issuer);
}
