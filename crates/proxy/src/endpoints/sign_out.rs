//! `/.portcullis/sign_out`: `GET` shows a confirmation page whose form `POST`s back with a
//! CSRF token; the `POST` (same-origin only, valid token) deletes the session record through
//! the databroker — revoking it on every replica — clears the cookie and redirects to
//! authenticate's signed `/.portcullis/sign_out`, which clears its own cookie and ends the
//! IdP session before returning to `redirect_uri`.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use portcullis_databroker::RecordWrite;
use portcullis_proto::Session;
use url::Url;

use super::page::{self, escape};
use super::{Call, SIGN_OUT_PATH, session};
use crate::ProxyBody;
use crate::rescue::Failure;

/// The largest sign-out form accepted.
const FORM_LIMIT: usize = 8 * 1024;
/// How long the redirect to authenticate stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(5 * 60);

/// `GET`: the confirmation page.
pub(super) fn confirm<B>(call: &Call<'_>, request: &Request<B>) -> Response<ProxyBody> {
    let token = session::token(request.headers(), &call.snapshot.credentials.cookie_name);
    let csrf = call.snapshot.csrf.token(token.unwrap_or(""));
    let redirect = query_param(request, "redirect_uri").unwrap_or_default();
    page::html(
        StatusCode::OK,
        "Sign out",
        &form(
            &csrf,
            &redirect,
            "Sign out of this site and your identity provider?",
        ),
    )
}

/// The sign-out form (also on the user page).
pub(super) fn form(csrf: &str, redirect_uri: &str, question: &str) -> String {
    format!(
        "<p>{}</p><form method=\"post\" action=\"{SIGN_OUT_PATH}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{}\">\
         <button type=\"submit\">Sign out</button></form>",
        escape(question),
        escape(csrf),
        escape(redirect_uri)
    )
}

/// `POST`: checks origin and CSRF token, deletes the session, clears the cookie, redirects.
pub(super) async fn sign_out(
    call: &Call<'_>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Failure> {
    if !same_origin(request.headers(), call) {
        return Err(Failure::Forbidden("sign-out must come from this site"));
    }
    let token = session::token(request.headers(), &call.snapshot.credentials.cookie_name)
        .map(str::to_owned);
    let form = read_form(request).await?;
    let field = |name: &str| {
        url::form_urlencoded::parse(&form)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let csrf = field("csrf").unwrap_or_default();
    if !call
        .snapshot
        .csrf
        .verify(token.as_deref().unwrap_or(""), &csrf)
    {
        return Err(Failure::Forbidden(
            "the sign-out form has expired; reload the page",
        ));
    }
    let mut id_token = None;
    if let Some(handle) = token.and_then(|t| call.snapshot.sessions.open(&t).ok()) {
        // Read before deleting: authenticate passes it to the IdP's end-session endpoint as
        // `id_token_hint`, which some providers need to sign the user out without asking.
        if let Ok(Some(record)) = call
            .proxy
            .databroker
            .get(Session::TYPE, &handle.session_id)
            .await
        {
            id_token = Session::decode(&record.data.type_url, &record.data.value)
                .ok()
                .map(|s| s.id_token.expose().to_owned())
                .filter(|t| !t.is_empty());
        }
        call.proxy
            .databroker
            .put(vec![RecordWrite::delete(Session::TYPE, &handle.session_id)])
            .await
            .map_err(|e| Failure::Unavailable(e.into()))?;
        tracing::info!(
            request_id = call.request_id,
            session = %handle.session_id,
            user = %handle.user_id,
            "signed out"
        );
    }
    let redirect_uri = return_to(call, field("redirect_uri").as_deref());
    let mut url = call
        .snapshot
        .authenticate_url
        .join(SIGN_OUT_PATH)
        .map_err(|e| Failure::Internal(format!("authenticate sign-out URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("redirect_uri", redirect_uri.as_str());
    if let Some(id_token) = &id_token {
        url.query_pairs_mut().append_pair("id_token_hint", id_token);
    }
    let signed = call
        .snapshot
        .signer
        .sign(url, SystemTime::now(), SIGNED_FOR);
    let mut response = page::redirect(signed.as_str());
    let clear = HeaderValue::from_str(&call.snapshot.cookie.clear())
        .map_err(|_| Failure::Internal("the cookie is not a header value".into()))?;
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

/// Browsers say where a POST came from: `Sec-Fetch-Site` must be `same-origin` (or `none`,
/// typed by the user) and `Origin`, when sent, must be this host.
fn same_origin(headers: &HeaderMap, call: &Call<'_>) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match text("origin") {
        None => true,
        Some(origin) => Url::parse(origin).is_ok_and(|o| {
            o.host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&call.target.host))
                && match call.target.port {
                    Some(p) => o.port_or_known_default() == Some(p),
                    None => o.port().is_none(),
                }
        }),
    }
}

async fn read_form(request: Request<Incoming>) -> Result<Vec<u8>, Failure> {
    let form_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(Failure::BadRequest("sign-out takes a form"));
    }
    match Limited::new(request.into_body(), FORM_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(Failure::TooLarge),
        Err(_) => Err(Failure::BadRequest("the form could not be read")),
    }
}

/// Where to land after signing out: `redirect_uri` when it is on this origin (absolute, or a
/// path), else this origin's `/`.
fn return_to(call: &Call<'_>, redirect_uri: Option<&str>) -> Url {
    let scheme = crate::pipeline::public_scheme(call.info, call.route);
    let origin = format!("{scheme}://{}/", call.target.authority);
    let home = Url::parse(&origin).unwrap_or_else(|_| call.route.route.from.clone());
    let Some(wanted) = redirect_uri.filter(|r| !r.is_empty()) else {
        return home;
    };
    let candidate = if wanted.starts_with('/') && !wanted.starts_with("//") {
        home.join(wanted).ok()
    } else {
        Url::parse(wanted).ok()
    };
    // Same origin exactly — scheme, host, port — and no user info (`http://evil%2f@host/`).
    candidate
        .filter(|u| {
            u.scheme() == home.scheme()
                && u.host_str() == home.host_str()
                && u.port() == home.port()
                && u.username().is_empty()
                && u.password().is_none()
        })
        .unwrap_or(home)
}

fn query_param<B>(request: &Request<B>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
