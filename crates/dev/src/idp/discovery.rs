//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3) and `/jwks`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::DevIdp;
use super::oauth;

/// The scopes the provider knows; others are accepted and ignored.
pub(super) const SCOPES: [&str; 5] = ["openid", "email", "profile", "groups", "offline_access"];

/// The claims ID tokens and userinfo carry.
const CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "email",
    "email_verified",
    "name",
    "groups",
];

pub(super) async fn configuration(State(idp): State<Arc<DevIdp>>) -> Response {
    oauth::json(StatusCode::OK, &metadata(&idp))
}

pub(super) async fn jwks(State(idp): State<Arc<DevIdp>>) -> Response {
    let keys = serde_json::to_value(idp.key.jwks()).unwrap_or(Value::Null);
    oauth::json(StatusCode::OK, &keys)
}

fn metadata(idp: &DevIdp) -> Value {
    json!({
        "issuer": idp.issuer,
        "authorization_endpoint": idp.endpoint("/authorize"),
        "token_endpoint": idp.endpoint("/token"),
        "userinfo_endpoint": idp.endpoint("/userinfo"),
        "jwks_uri": idp.endpoint("/jwks"),
        "end_session_endpoint": idp.endpoint("/end_session"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "scopes_supported": SCOPES,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": CLAIMS,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_live_under_the_issuer() {
        let url = url::Url::parse("http://idp.localhost:8080/dev/").unwrap();
        let doc = metadata(&DevIdp::new(url, vec![]));
        assert_eq!(doc["issuer"], "http://idp.localhost:8080/dev");
        assert_eq!(doc["token_endpoint"], "http://idp.localhost:8080/dev/token");
        assert_eq!(doc["jwks_uri"], "http://idp.localhost:8080/dev/jwks");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    }
}
