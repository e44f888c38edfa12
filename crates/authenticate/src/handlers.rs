//! The authenticate host's endpoints, and what they share.
//!
//! | path | method | what |
//! |---|---|---|
//! | `/.portcullis/sign_in` | GET | signed by a route host: skip to the handoff when this browser has a session, else redirect to the IdP |
//! | `/oauth2/callback` | GET | the IdP's redirect: verify, exchange, write records, set the cookie, hand off |
//! | `/.portcullis/sign_out` | GET | confirm page; or, signed by a route host, sign out at once |
//! | `/.portcullis/sign_out` | POST | the confirm form (CSRF token): sign out |
//! | `/.portcullis/signed_out` | GET | where the IdP returns after logout |
//! | `/.portcullis/` | GET | who you are |
//! | `/ping`, `/healthz` | GET | liveness |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portcullis_grpc::Handoff;
use url::Url;

use crate::Authenticate;
use crate::authenticate::CALLBACK_PATH;

mod callback;
mod sign_in;
mod sign_out;
mod user;

/// Where route hosts send browsers to sign in.
pub const SIGN_IN_PATH: &str = "/.portcullis/sign_in";
/// Sign-out on the authenticate host.
pub const SIGN_OUT_PATH: &str = "/.portcullis/sign_out";
/// Where the IdP returns after logout (when `signout_redirect_url` is not set).
pub const SIGNED_OUT_PATH: &str = "/.portcullis/signed_out";
/// The user page.
pub const USER_PATH: &str = "/.portcullis/";
/// The query parameter of a programmatic login's final redirect that carries the session
/// token (to send as `Authorization: Bearer Portcullis-<token>`).
pub const TOKEN_PARAM: &str = "portcullis_token";

pub(crate) fn router(auth: Arc<Authenticate>) -> Router {
    Router::new()
        .route(SIGN_IN_PATH, get(sign_in::sign_in))
        .route(CALLBACK_PATH, get(callback::callback))
        .route(SIGN_OUT_PATH, get(sign_out::get).post(sign_out::post))
        .route(SIGNED_OUT_PATH, get(sign_out::signed_out))
        .route(USER_PATH, get(user::page))
        .route("/ping", get(user::ping))
        .route("/healthz", get(user::ping))
        .layer(axum::middleware::map_response(no_store))
        // The only body authenticate reads is the sign-out form (one CSRF token).
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(auth)
}

/// The largest request body authenticate reads (`413` beyond).
const FORM_LIMIT: usize = 8 * 1024;

/// Nothing the authenticate host answers may be cached (every page is personal), framed or
/// sniffed: the security headers every portcullis page carries.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in portcullis_proto::html::SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The request's `Cookie` header values.
pub(crate) fn cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

/// The query's parameters; the first of repeated names wins.
pub(crate) fn params(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// `302 Found` to `location`, setting `cookies`.
pub(crate) fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

// === impl Authenticate ===

impl Authenticate {
    /// The URL a request was sent to, as the signer saw it: `authenticate_service_url` with
    /// the request's path and query.
    pub(crate) fn request_url(&self, uri: &Uri) -> Url {
        let mut url = self.base.clone();
        url.set_path(uri.path());
        url.set_query(uri.query());
        url
    }

    /// The last hop of a login: the route host's handoff callback, or for a programmatic
    /// login the loopback `redirect_uri` with [`TOKEN_PARAM`].
    pub(crate) fn finish_login(
        &self,
        token: &str,
        redirect_uri: &Url,
        programmatic: bool,
        now: SystemTime,
        cookies: &[String],
    ) -> Response {
        let location = if programmatic {
            let mut url = redirect_uri.clone();
            url.query_pairs_mut().append_pair(TOKEN_PARAM, token);
            url
        } else {
            let handoff = Handoff {
                token: token.to_owned(),
                redirect_uri: redirect_uri.clone(),
            };
            self.handoff.callback_url(&handoff, now)
        };
        redirect(location.as_str(), cookies)
    }
}
