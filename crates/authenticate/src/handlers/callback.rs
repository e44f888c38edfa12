//! `GET /oauth2/callback?code=…&state=…`: the IdP's redirect after login.
//!
//! Checked in this order, each failure a 4xx with no session written: an IdP error
//! parameter, the sealed `state` (integrity, age) and its CSRF cookie, the `code` (the IdP
//! refuses reused or foreign codes and wrong PKCE verifiers), the ID token (issuer,
//! audience, nonce, expiry, signature, `at_hash`), the `redirect_uri` (again, as the routes
//! may have changed). Only then are the records written and the cookie set.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use portcullis_grpc::SessionHandle;

use super::{cookies, params};
use crate::Authenticate;
use crate::error::Failure;
use crate::records;

pub(super) async fn callback(
    State(auth): State<Arc<Authenticate>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let now = SystemTime::now();
    let params = params(uri.query());
    if let Some(error) = params.get("error") {
        return Err(Failure::IdpRefusedLogin(oauth_code(error)));
    }
    let login = auth.state.open(
        params.get("state").map(String::as_str),
        cookies(&headers),
        now,
    )?;
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or(Failure::BadParameter("code"))?;
    let target = login.redirect_uri.as_str();
    if auth
        .redirects
        .load()
        .check(target, login.programmatic)
        .is_none()
    {
        return Err(Failure::ForeignRedirect(target.to_owned()));
    }

    let result = auth
        .idp
        .login(code.clone(), login.pkce_verifier.clone(), &login.nonce, now)
        .await?;
    let (session, user) = records::from_login(&result, now, auth.cookie_expire);
    let version = records::write(&*auth.storage, &session, &user).await?;
    tracing::info!(user = %user.id, email = %user.email, programmatic = login.programmatic, "signed in");

    let token = auth.handles.seal(&SessionHandle {
        session_id: session.id,
        user_id: user.id,
        issued_at: now,
        version,
    });
    let set = [auth.session_cookie.set(&token), auth.state.clear_cookie()];
    Ok(auth.finish_login(&token, &login.redirect_uri, login.programmatic, now, &set))
}

/// An OAuth error code as the IdP sent it, cut to what such codes contain.
fn oauth_code(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
        .take(64)
        .collect()
}
