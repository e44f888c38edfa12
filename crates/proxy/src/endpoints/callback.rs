//! `/.portcullis/callback?portcullis_handoff=…`: the end of a login (design §4 step 5).
//! Opens the sealed handoff from authenticate, checks that it was made for this host, sets
//! the session cookie (`Secure`, `HttpOnly`, `SameSite`, `Path=/` as configured) and sends
//! the browser on to the URL it first asked for. A bad, foreign or expired handoff is `400`.

use std::time::SystemTime;

use http::{HeaderValue, Request, Response, StatusCode, header};
use portcullis_grpc::handoff::HANDOFF_PARAM;

use super::Call;
use super::page;
use crate::ProxyBody;
use crate::rescue::Failure;

pub(super) fn serve<B>(
    call: &Call<'_>,
    request: &Request<B>,
) -> Result<Response<ProxyBody>, Failure> {
    let sealed = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == HANDOFF_PARAM)
            .map(|(_, v)| v.into_owned())
    });
    let Some(sealed) = sealed else {
        return Ok(refuse(call, "The sign-in link is incomplete."));
    };
    let handoff = match call.snapshot.handoff.open(&sealed, SystemTime::now()) {
        Ok(handoff) => handoff,
        Err(error) => {
            tracing::debug!(request_id = call.request_id, %error, "login handoff refused");
            return Ok(refuse(call, "The sign-in link is invalid or has expired."));
        }
    };
    let uri = &handoff.redirect_uri;
    let same_host = uri.host_str().is_some_and(|h| {
        h.trim_end_matches('.')
            .eq_ignore_ascii_case(&call.target.host)
    }) && match call.target.port {
        Some(p) => uri.port_or_known_default() == Some(p),
        None => uri.port().is_none(),
    };
    let user_info = !uri.username().is_empty() || uri.password().is_some();
    // Authenticate only hands off to a route's own origin: its scheme, no user info.
    let same_scheme = uri.scheme() == call.route.route.from.scheme();
    if !same_host || user_info || !same_scheme {
        tracing::warn!(
            request_id = call.request_id,
            redirect_host = uri.host_str().unwrap_or(""),
            "login handoff made for another host"
        );
        return Ok(refuse(call, "The sign-in link was made for another site."));
    }
    if call.snapshot.sessions.open(&handoff.token).is_err() {
        return Ok(refuse(call, "The sign-in link is invalid or has expired."));
    }
    let mut response = page::redirect(uri.as_str());
    let cookie = HeaderValue::from_str(&call.snapshot.cookie.set(&handoff.token))
        .map_err(|_| Failure::Internal("the session cookie is not a header value".into()))?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

fn refuse(call: &Call<'_>, message: &str) -> Response<ProxyBody> {
    let content = format!(
        "<p>{}</p><p>Go back to the page you wanted and sign in again.</p>\
         <p><small>Request id: <code>{}</code></small></p>",
        page::escape(message),
        page::escape(call.request_id)
    );
    page::html(StatusCode::BAD_REQUEST, "Sign-in failed", &content)
}
