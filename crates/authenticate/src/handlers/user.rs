//! `/.portcullis/` (who you are) and the liveness endpoints.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::error::Failure;
use crate::pages::{self, UserView};
use crate::{Authenticate, records};

pub(super) async fn page(
    State(auth): State<Arc<Authenticate>>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let now = SystemTime::now();
    let Some(browser) = auth.browser_session(&headers, now).await? else {
        return Ok(pages::not_signed_in().into_response());
    };
    let user = records::read_user(&*auth.storage, &browser.session.user_id)
        .await?
        .unwrap_or_default();
    let view = UserView {
        user_id: &browser.session.user_id,
        email: &user.email,
        name: &user.name,
        groups: &user.groups,
        expires_at: browser.session.expires_at,
    };
    Ok(pages::user(&view, &auth.sign_out_token(&headers, now)).into_response())
}

/// `/ping` and `/healthz`: the role is up. (It needs neither the IdP nor the databroker to
/// answer; those failures show on the requests that need them.)
pub(super) async fn ping() -> &'static str {
    "OK"
}
