//! A hostile OpenID provider for the ID-token attacks: discovery, a JWKS with one P-256 key
//! (`kid` `k1`), and a token endpoint that answers the authorization code `N` with the
//! `N`th ID token the test queued. Not a mock of a dependency: it plays the attacker who
//! controls (or impersonates) the IdP's answers.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::header;
use axum::routing::{get, post};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::support::b64;

/// A running hostile IdP.
pub struct HostileIdp {
    pub issuer: String,
    pub key: EcdsaKeyPair,
    /// ID tokens, answered for codes `0`, `1`, ...
    pub tokens: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The uncompressed public point of `key`.
pub trait PublicBytes {
    fn public_key_bytes(&self) -> Vec<u8>;
}

impl PublicBytes for EcdsaKeyPair {
    fn public_key_bytes(&self) -> Vec<u8> {
        self.public_key().as_ref().to_vec()
    }
}

/// A fresh P-256 key.
pub fn p256() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

/// The public JWK of `key` with `kid`.
pub fn jwk(key: &EcdsaKeyPair, kid: &str) -> Value {
    let point = key.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
           "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// An ES256 JWS of `header` and `claims` signed by `key`.
pub fn es256(key: &EcdsaKeyPair, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature.as_ref()))
}

impl HostileIdp {
    pub async fn start() -> HostileIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let key = p256();
        let jwks = json!({"keys": [jwk(&key, "k1")]}).to_string();
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
        .to_string();
        let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
        let queued = Arc::clone(&tokens);
        let json = |body: String| ([(header::CONTENT_TYPE, "application/json")], body);
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { json(discovery) }),
            )
            .route("/jwks", get(move || async move { json(jwks) }))
            .route(
                "/token",
                post(move |form: String| async move {
                    let code: usize = url::form_urlencoded::parse(form.as_bytes())
                        .find(|(k, _)| k == "code")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(usize::MAX);
                    let id_token = queued
                        .lock()
                        .unwrap()
                        .get(code)
                        .cloned()
                        .unwrap_or_default();
                    json(
                        json!({"access_token": "at", "token_type": "Bearer",
                               "expires_in": 300, "id_token": id_token})
                        .to_string(),
                    )
                }),
            );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HostileIdp {
            issuer,
            key,
            tokens,
            task,
        }
    }

    /// Queues `id_token`; returns its code.
    pub fn queue(&self, id_token: String) -> usize {
        let mut tokens = self.tokens.lock().unwrap();
        tokens.push(id_token);
        tokens.len() - 1
    }
}
