//! `GET /authorize` validates the authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636)
//! and shows the login form; `POST /authorize` (the form) issues a code.
//!
//! Until `client_id` and `redirect_uri` are known to belong together, errors are pages: the
//! browser is never sent to an unregistered URI. After that, errors go back to the client as
//! `error=` redirects (RFC 6749 §4.1.2.1).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::identity::Identity;
use super::oauth::{self, Params};
use super::pages::{self, LoginForm};
use super::store::AuthRequest;
use super::{DevIdp, unix_time};

/// `state`, `nonce` and `scope` are kept; each may be at most this long.
const MAX_PARAM: usize = 2048;

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum AuthorizeError {
    /// The client or its redirect URI is unknown: answered with a page.
    #[error("{title}: {detail}")]
    Page { title: &'static str, detail: String },
    /// Sent back to the client's (registered) redirect URI.
    #[error("{error}: {description}")]
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

pub(super) async fn show(State(idp): State<Arc<DevIdp>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let request = match validate(&idp, &params) {
        Ok(request) => request,
        Err(error) => {
            tracing::info!(%error, "dev IdP: authorization request refused");
            return error.respond(StatusCode::FOUND);
        }
    };
    let id = match idp.store.add_request(request.clone(), Instant::now()) {
        Ok(id) => id,
        Err(error) => return unavailable(&request, &error.to_string(), StatusCode::FOUND),
    };
    pages::login(&LoginForm {
        action: &format!("{}/authorize", idp.prefix),
        request_id: &id,
        client_id: &request.client_id,
        redirect_uri: &request.redirect_uri,
        scopes: &request.scopes,
        email: "",
        groups: "",
        error: None,
    })
}

pub(super) async fn submit(State(idp): State<Arc<DevIdp>>, body: Bytes) -> Response {
    let form = Params::parse(&body);
    let now = Instant::now();
    let Some(id) = form.get("request_id") else {
        return pages::error("Not a login request", "The form carries no request id.");
    };
    let Some(request) = idp.store.request(id, now) else {
        return expired();
    };
    if form.get("action") == Some("cancel") {
        idp.store.take_request(id, now);
        let error = AuthorizeError::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: "access_denied",
            description: "the user cancelled the login".into(),
        };
        return error.respond(StatusCode::SEE_OTHER);
    }
    let (email, groups) = (
        form.get("email").unwrap_or(""),
        form.get("groups").unwrap_or(""),
    );
    let identity = match Identity::from_form(email, groups) {
        Ok(identity) => identity,
        Err(error) => {
            return pages::login(&LoginForm {
                action: &format!("{}/authorize", idp.prefix),
                request_id: id,
                client_id: &request.client_id,
                redirect_uri: &request.redirect_uri,
                scopes: &request.scopes,
                email,
                groups,
                error: Some(&error.to_string()),
            });
        }
    };
    let Some(request) = idp.store.take_request(id, now) else {
        return expired();
    };
    tracing::info!(client_id = %request.client_id, email = %identity.email, "dev IdP: signed in");
    let auth_time = unix_time(SystemTime::now());
    match idp
        .store
        .add_code(request.clone(), identity, auth_time, now)
    {
        Ok(code) => {
            let mut params = vec![("code", code.as_str())];
            params.extend(request.state.as_deref().map(|s| ("state", s)));
            oauth::redirect(StatusCode::SEE_OTHER, &request.redirect_uri, &params)
                .unwrap_or_else(|| bad_redirect_uri(&request.redirect_uri))
        }
        Err(error) => unavailable(&request, &error.to_string(), StatusCode::SEE_OTHER),
    }
}

/// The request, or why it is refused.
pub(super) fn validate(idp: &DevIdp, p: &Params) -> Result<AuthRequest, AuthorizeError> {
    let page = |title, detail: String| AuthorizeError::Page { title, detail };
    let client_id = match p.get("client_id") {
        _ if p.is_repeated("client_id") => {
            return Err(page("Bad login request", "client_id is repeated.".into()));
        }
        None => return Err(page("Bad login request", "client_id is missing.".into())),
        Some(id) => id,
    };
    let Some(client) = idp.client(client_id) else {
        let detail = format!("The client {client_id:?} is not registered with this provider.");
        return Err(page("Unknown client", detail));
    };
    let redirect_uri = match p.get("redirect_uri") {
        _ if p.is_repeated("redirect_uri") => {
            return Err(page(
                "Bad login request",
                "redirect_uri is repeated.".into(),
            ));
        }
        None => return Err(page("Bad login request", "redirect_uri is missing.".into())),
        Some(uri) => uri,
    };
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        let detail = format!(
            "The redirect_uri {redirect_uri:?} is not registered for the client {client_id:?}; \
             registered: {:?}. It must match one exactly.",
            client.redirect_uris
        );
        return Err(page("Unregistered redirect_uri", detail));
    }
    let state = p.get("state").map(str::to_owned);
    let back = |error, description: &str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        error,
        description: description.to_owned(),
    };
    if let Some(name) = p.any_repeated() {
        return Err(back("invalid_request", &format!("{name} is repeated")));
    }
    if p.get("request").is_some() {
        return Err(back(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if p.get("request_uri").is_some() {
        return Err(back(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match p.get("response_type") {
        Some("code") => {}
        Some(_) => return Err(back("unsupported_response_type", "only response_type=code")),
        None => return Err(back("invalid_request", "response_type is missing")),
    }
    if p.get("response_mode").is_some_and(|m| m != "query") {
        return Err(back("invalid_request", "only response_mode=query"));
    }
    let long = ["state", "nonce", "scope"]
        .into_iter()
        .find(|name| p.get(name).is_some_and(|v| v.len() > MAX_PARAM));
    if let Some(name) = long {
        return Err(back(
            "invalid_request",
            &format!("{name} is longer than {MAX_PARAM} bytes"),
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in p.get("scope").unwrap_or("").split_ascii_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(back("invalid_scope", "scope must include openid"));
    }
    let Some(challenge) = p.get("code_challenge") else {
        return Err(back(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ));
    };
    if p.get("code_challenge_method") != Some("S256") {
        return Err(back(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(back(
            "invalid_request",
            "code_challenge is not a base64url SHA-256",
        ));
    }
    if p.get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "none"))
    {
        return Err(back("login_required", "this provider keeps no sessions"));
    }
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state,
        nonce: p.get("nonce").map(str::to_owned),
        scopes,
        code_challenge: challenge.to_owned(),
    })
}

// === impl AuthorizeError ===

impl AuthorizeError {
    fn respond(self, status: StatusCode) -> Response {
        match self {
            AuthorizeError::Page { title, detail } => pages::error(title, &detail),
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let mut params = vec![("error", error), ("error_description", &description)];
                params.extend(state.as_deref().map(|s| ("state", s)));
                oauth::redirect(status, &redirect_uri, &params)
                    .unwrap_or_else(|| bad_redirect_uri(&redirect_uri))
            }
        }
    }
}

fn unavailable(request: &AuthRequest, why: &str, status: StatusCode) -> Response {
    let error = AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        error: "temporarily_unavailable",
        description: why.to_owned(),
    };
    error.respond(status)
}

fn expired() -> Response {
    pages::error(
        "This login request has expired or was already used",
        "Go back to the application and sign in again.",
    )
}

fn bad_redirect_uri(uri: &str) -> Response {
    let detail = format!("The registered redirect URI {uri:?} is not an absolute URL.");
    pages::error_with(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Misconfigured client",
        &detail,
    )
}

#[cfg(test)]
mod tests;
