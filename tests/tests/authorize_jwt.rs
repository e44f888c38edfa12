//! The identity JWT verifies with an independent JOSE implementation (Python `pyjwt` with
//! `cryptography`, installed by `scripts/setup`) against the published JWKS, and tampering
//! with any part of it makes verification fail.

#[path = "authorize/support.rs"]
mod support;

use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis_authorize::Engine;
use portcullis_databroker::{Storage, StorageOptions};
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest};
use portcullis_testing::jwt::pyjwt_verify;
use support::{Login, session_cookie};

/// An engine over a memory databroker in this process, and an identity JWT from it.
async fn engine_and_jwt(extra_config: &str) -> (Engine, String) {
    let storage: Arc<dyn Storage> = portcullis_databroker::open_storage(&StorageOptions::Memory)
        .await
        .unwrap();
    let config = support::config(Some("http://127.0.0.1:9"), extra_config);
    let engine = Engine::new(&config, Arc::clone(&storage)).unwrap();
    let handle = Login::new("ann", "ann@example.com").write(&*storage).await;
    let request = AuthorizeRequest {
        route_id: Some("app".into()),
        method: "GET".into(),
        scheme: "https".into(),
        host: "app.example.com".into(),
        path: "/".into(),
        headers: vec![("cookie".into(), session_cookie(&handle))],
        ..AuthorizeRequest::default()
    };
    let AuthorizeDecision::Allow(allow) = engine.decide(&request).await else {
        panic!("the login is allowed on `app`");
    };
    let jwt = allow
        .header("x-portcullis-jwt-assertion")
        .unwrap()
        .to_owned();
    (engine, jwt)
}

fn jwks(engine: &Engine) -> String {
    serde_json::to_string(&engine.signing_key().jwks()).unwrap()
}

/// The token with part `index` (0 header, 1 payload) re-encoded after `change`.
fn tamper_json(jwt: &str, index: usize, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut value: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[index]).unwrap()).unwrap();
    change(&mut value);
    parts[index] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap());
    parts.join(".")
}

fn assert_verifies_and_tampering_fails(jwks: &str, jwt: &str, alg: &str) {
    let verified = pyjwt_verify(jwks, jwt, "app.example.com").expect("the token verifies");
    assert_eq!(verified["alg"], alg);
    let claims = &verified["claims"];
    assert_eq!(claims["sub"], "user-ann");
    assert_eq!(claims["user"], "user-ann");
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["name"], "Name of user-ann");
    assert_eq!(claims["sid"], "session-ann");
    assert_eq!(claims["groups"], serde_json::json!(["staff"]));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );

    let header = tamper_json(jwt, 0, |h| h["typ"] = "JOSE".into());
    let payload = tamper_json(jwt, 1, |c| c["email"] = "boss@example.com".into());
    let mut signature: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut sig = URL_SAFE_NO_PAD.decode(&signature[2]).unwrap();
    sig[10] ^= 0x01;
    signature[2] = URL_SAFE_NO_PAD.encode(sig);
    let signature = signature.join(".");
    for (what, tampered) in [
        ("header", header),
        ("payload", payload),
        ("signature", signature),
    ] {
        assert_ne!(tampered, jwt);
        let result = pyjwt_verify(jwks, &tampered, "app.example.com");
        assert!(result.is_err(), "a tampered {what} verified: {result:?}");
    }
    assert!(
        pyjwt_verify(jwks, jwt, "other.example.com").is_err(),
        "the audience is the route host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_tokens_from_the_derived_key_verify_with_pyjwt_against_any_replicas_jwks() {
    let (engine, jwt) = engine_and_jwt("").await;
    assert_verifies_and_tampering_fails(&jwks(&engine), &jwt, "ES256");
    // Another replica with the same shared_secret publishes the same key.
    let (other, _) = engine_and_jwt("").await;
    assert_eq!(jwks(&engine), jwks(&other));
    assert!(pyjwt_verify(&jwks(&other), &jwt, "app.example.com").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_from_a_configured_rsa_key_verify_with_pyjwt() {
    let output = Command::new("python3")
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import rsa\n\
             from cryptography.hazmat.primitives import serialization as s\n\
             k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
             print(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode())",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let pem_b64 = STANDARD.encode(&output.stdout);
    let (engine, jwt) = engine_and_jwt(&format!("signing_key: {pem_b64}\n")).await;
    assert_verifies_and_tampering_fails(&jwks(&engine), &jwt, "RS256");
}
