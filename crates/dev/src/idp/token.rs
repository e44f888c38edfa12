//! `POST /token`: the authorization-code grant (with PKCE) and the refresh-token grant
//! (RFC 6749 §4.1.3, §6; RFC 7636 §4.6).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::oauth::{self, Params, TokenError};
use super::store::{GrantError, Issued};
use super::{DevClient, DevIdp, client_auth, id_token};
use crate::random;

pub(super) async fn token(
    State(idp): State<Arc<DevIdp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match respond(&idp, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(%error, "dev IdP: token request refused");
            error.into_response()
        }
    }
}

fn respond(idp: &DevIdp, headers: &HeaderMap, body: &[u8]) -> Result<Response, TokenError> {
    let params = Params::parse(body);
    if let Some(name) = params.any_repeated() {
        return Err(TokenError::Request(format!("{name} is repeated")));
    }
    let client = client_auth::authenticate(idp, headers, &params)?;
    let now = Instant::now();
    let issued = match params.get("grant_type") {
        Some("authorization_code") => code_grant(idp, client, &params, now)?,
        Some("refresh_token") => refresh_grant(idp, client, &params, now)?,
        Some(_) => return Err(TokenError::GrantType),
        None => return Err(TokenError::Request("grant_type is missing".into())),
    };
    let id_token = id_token::sign(idp, &issued, SystemTime::now())
        .map_err(|e| TokenError::Server(e.to_string()))?;
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": idp.store.lifetimes().access.as_secs(),
        "id_token": id_token,
        "scope": issued.scopes.join(" "),
    });
    if let Some(refresh) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    Ok(oauth::json(StatusCode::OK, &body))
}

fn code_grant(
    idp: &DevIdp,
    client: &DevClient,
    params: &Params,
    now: Instant,
) -> Result<Issued, TokenError> {
    let missing = |name: &str| TokenError::Request(format!("{name} is missing"));
    let code = params.get("code").ok_or_else(|| missing("code"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| missing("redirect_uri"))?;
    let verifier = params
        .get("code_verifier")
        .ok_or_else(|| missing("code_verifier (PKCE is required)"))?;
    if !is_verifier(verifier) {
        return Err(TokenError::Request(
            "code_verifier must be 43 to 128 unreserved characters".into(),
        ));
    }
    let challenge = random::sha256_b64(verifier.as_bytes());
    let issued = idp.store.redeem_code(code, &client.id, now, |request| {
        if request.redirect_uri != redirect_uri {
            return Err(GrantError::Invalid(
                "redirect_uri differs from the authorization request's",
            ));
        }
        if !idp
            .secrets
            .eq(request.code_challenge.as_bytes(), challenge.as_bytes())
        {
            return Err(GrantError::Invalid(
                "code_verifier does not match the code_challenge",
            ));
        }
        Ok(())
    });
    let issued = issued.map_err(grant_error)?;
    tracing::info!(client_id = %client.id, email = %issued.identity.email, "dev IdP: code exchanged");
    Ok(issued)
}

fn refresh_grant(
    idp: &DevIdp,
    client: &DevClient,
    params: &Params,
    now: Instant,
) -> Result<Issued, TokenError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| TokenError::Request("refresh_token is missing".into()))?;
    let scopes: Option<Vec<String>> = params
        .get("scope")
        .map(|s| s.split_ascii_whitespace().map(str::to_owned).collect());
    let issued = idp
        .store
        .refresh(token, &client.id, scopes.as_deref(), now)
        .map_err(grant_error)?;
    tracing::info!(client_id = %client.id, email = %issued.identity.email, "dev IdP: tokens refreshed");
    Ok(issued)
}

fn grant_error(error: GrantError) -> TokenError {
    match error {
        GrantError::Invalid(why) => TokenError::Grant(why),
        GrantError::Scope => TokenError::Scope,
        GrantError::Full => TokenError::Unavailable,
    }
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_follow_rfc_7636() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(is_verifier(&"-._~9".repeat(25)));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }
}
