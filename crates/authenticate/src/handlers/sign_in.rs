//! `GET /.portcullis/sign_in?redirect_uri=…[&programmatic=true]` (signed by a route host).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::{cookies, params, redirect};
use crate::Authenticate;
use crate::error::Failure;
use crate::login_state::LoginState;

/// Verifies the signature and `redirect_uri`; skips the IdP when this browser has a live
/// session, else starts the code flow.
pub(super) async fn sign_in(
    State(auth): State<Arc<Authenticate>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let now = SystemTime::now();
    let verified = auth.signer.verify(&auth.request_url(&uri), now)?;
    let params = params(verified.query());
    let programmatic = params.get("programmatic").is_some_and(|v| v == "true");
    let target = params
        .get("redirect_uri")
        .ok_or(Failure::BadParameter("redirect_uri"))?;
    let redirect_uri = auth
        .redirects
        .load()
        .check(target, programmatic)
        .ok_or_else(|| Failure::ForeignRedirect(target.clone()))?;

    if let Some(existing) = auth.browser_session(&headers, now).await? {
        tracing::debug!(user = %existing.session.user_id, "sign-in with a live session; skipping the IdP");
        return Ok(auth.finish_login(&existing.token, &redirect_uri, programmatic, now, &[]));
    }

    let csrf = auth.state.csrf_value(cookies(&headers));
    let login = LoginState::new(csrf, redirect_uri, programmatic);
    let discovered = auth.idp.discovered().await?;
    let location = auth.idp.authorize_url(
        &discovered,
        auth.state.seal(&login, now),
        login.nonce.clone(),
        &login.pkce_verifier,
    );
    Ok(redirect(
        location.as_str(),
        &[auth.state.set_cookie(&login.csrf)],
    ))
}
