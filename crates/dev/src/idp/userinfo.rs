//! `GET|POST /userinfo` (OpenID Connect Core §5.3): the user a Bearer access token was issued
//! for; `401` with a `WWW-Authenticate` challenge (RFC 6750 §3) otherwise.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::DevIdp;
use super::oauth;

pub(super) async fn userinfo(State(idp): State<Arc<DevIdp>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized("Bearer realm=\"portcullis-dev\"");
    };
    let Some(identity) = idp.store.access(token, Instant::now()) else {
        return unauthorized(
            "Bearer realm=\"portcullis-dev\", error=\"invalid_token\", \
             error_description=\"the access token is unknown, expired or revoked\"",
        );
    };
    let body = json!({
        "sub": identity.sub,
        "email": identity.email,
        "email_verified": true,
        "name": identity.name,
        "groups": identity.groups,
    });
    oauth::json(StatusCode::OK, &body)
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized(challenge: &'static str) -> Response {
    let body = json!({"error": "invalid_token", "error_description": "a valid Bearer access token is required"});
    let mut response = oauth::json(StatusCode::UNAUTHORIZED, &body);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_credentials_count() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            bearer(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
