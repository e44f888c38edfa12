//! Sign-out on the authenticate host.
//!
//! - `GET /.portcullis/sign_out` shows a confirm page whose form carries a CSRF token: sealed
//!   (label `sign-out-form`, 10 minutes) and bound to this browser's session id.
//! - `POST /.portcullis/sign_out` with that token signs out.
//! - `GET /.portcullis/sign_out?redirect_uri=…` signed with the shared secret (a route host's
//!   own sign-out, already confirmed there) signs out at once.
//!
//! Signing out deletes the session record (revoking it on every route host), clears the
//! cookie, and sends the browser to the IdP's `end_session_endpoint` (with `id_token_hint`,
//! `client_id` and `post_logout_redirect_uri`) when the IdP has one; the IdP then returns to
//! `signout_redirect_url`, or to `/.portcullis/signed_out`, which forwards to the route
//! host's `redirect_uri` when one came with a signed request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use url::Url;

use super::{SIGNED_OUT_PATH, params, redirect};
use crate::Authenticate;
use crate::error::Failure;
use crate::{pages, records};

/// How long a confirm page's form, and a post-logout return, stay valid.
const VALID_FOR: Duration = Duration::from_secs(10 * 60);
const SIGNATURE_PARAM: &str = "portcullis_signature";

/// The confirm form.
#[derive(Debug, Deserialize)]
pub(super) struct SignOutForm {
    csrf: String,
}

pub(super) async fn get(
    State(auth): State<Arc<Authenticate>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let now = SystemTime::now();
    if !params(uri.query()).contains_key(SIGNATURE_PARAM) {
        let token = auth.sign_out_token(&headers, now);
        return Ok(pages::confirm_sign_out(&token).into_response());
    }
    let verified = auth.signer.verify(&auth.request_url(&uri), now)?;
    let verified_params = params(verified.query());
    // A route host that already deleted the session passes its ID token along (signed).
    let hint = verified_params.get("id_token_hint").cloned();
    let return_to = match verified_params.get("redirect_uri") {
        None => None,
        Some(target) => Some(
            auth.redirects
                .load()
                .check(target, false)
                .ok_or_else(|| Failure::ForeignRedirect(target.clone()))?,
        ),
    };
    auth.sign_out(&headers, return_to.as_ref(), hint, now).await
}

pub(super) async fn post(
    State(auth): State<Arc<Authenticate>>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Result<Response, Failure> {
    let now = SystemTime::now();
    let Form(form) = form.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Failure::TooLarge
        } else {
            Failure::BadParameter("csrf")
        }
    })?;
    let bound = auth
        .sign_out_form
        .open_at(&form.csrf, now)
        .map_err(|_| Failure::SignOutToken)?;
    if bound != auth.session_binding(&headers) {
        return Err(Failure::SignOutToken);
    }
    auth.sign_out(&headers, None, None, now).await
}

/// `GET /.portcullis/signed_out[?state=…]`.
pub(super) async fn signed_out(State(auth): State<Arc<Authenticate>>, uri: Uri) -> Response {
    let now = SystemTime::now();
    let target = params(uri.query())
        .get("state")
        .and_then(|s| auth.sign_out_return.open_at(s, now).ok())
        .and_then(|plain| String::from_utf8(plain).ok())
        .and_then(|text| auth.redirects.load().check(&text, false));
    match target {
        Some(url) => redirect(url.as_str(), &[]),
        None => pages::signed_out().into_response(),
    }
}

// === impl Authenticate ===

impl Authenticate {
    /// A confirm form token bound to this browser's session (or to no session).
    pub(crate) fn sign_out_token(&self, headers: &HeaderMap, now: SystemTime) -> String {
        self.sign_out_form
            .seal_until(&self.session_binding(headers), now, VALID_FOR)
    }

    fn session_binding(&self, headers: &HeaderMap) -> Vec<u8> {
        self.cookie_handle(headers)
            .map(|(_, h)| h.session_id.into_bytes())
            .unwrap_or_default()
    }

    async fn sign_out(
        &self,
        headers: &HeaderMap,
        return_to: Option<&Url>,
        hint: Option<String>,
        now: SystemTime,
    ) -> Result<Response, Failure> {
        let mut id_token = hint.unwrap_or_default();
        if let Some((_, handle)) = self.cookie_handle(headers) {
            if let Some((session, _)) =
                records::read_session(&*self.storage, &handle.session_id).await?
                && !session.id_token.expose().is_empty()
            {
                id_token = session.id_token.expose().to_owned();
            }
            records::delete_session(&*self.storage, &handle.session_id).await?;
            tracing::info!(user = %handle.user_id, "signed out");
        }
        let cookies = [self.session_cookie.clear()];

        let (after, state) = match &self.signout_redirect_url {
            Some(url) => (url.clone(), None),
            None => {
                let mut url = self.base.clone();
                url.set_path(SIGNED_OUT_PATH);
                let state = return_to.map(|u| {
                    self.sign_out_return
                        .seal_until(u.as_str().as_bytes(), now, VALID_FOR)
                });
                (url, state)
            }
        };
        let end_session = match self.idp.discovered().await {
            Ok(discovered) => discovered.end_session.clone(),
            Err(error) => {
                tracing::warn!(%error, "IdP unavailable; signing out locally only");
                None
            }
        };
        let location = match end_session {
            Some(mut url) => {
                {
                    let mut query = url.query_pairs_mut();
                    if !id_token.is_empty() {
                        query.append_pair("id_token_hint", &id_token);
                    }
                    query
                        .append_pair("client_id", self.idp.client_id())
                        .append_pair("post_logout_redirect_uri", after.as_str());
                    if let Some(state) = &state {
                        query.append_pair("state", state);
                    }
                }
                url
            }
            None => {
                let mut url = after;
                if let Some(state) = &state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                url
            }
        };
        Ok(redirect(location.as_str(), &cookies))
    }
}
