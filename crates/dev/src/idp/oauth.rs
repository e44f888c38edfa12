//! OAuth 2.0 plumbing shared by the endpoints: request parameters (RFC 6749 §3.1: each at
//! most once, empty means absent), JSON responses that are never cached, and token endpoint
//! errors (RFC 6749 §5.2).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The parameters of a query string or form body.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

/// A token endpoint error. Its `Display` is what the log records; the response carries the
/// code and a short description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// A parameter is missing, repeated or malformed.
    #[error("invalid_request: {0}")]
    Request(String),
    /// Unknown client, wrong secret, or none or two authentication methods; `basic` when the
    /// client tried HTTP Basic (the response then carries a `WWW-Authenticate` challenge).
    #[error("invalid_client: client authentication failed")]
    Client { basic: bool },
    /// The code or refresh token is unknown, expired, spent, another client's, or does not
    /// match the redirect URI or PKCE verifier.
    #[error("invalid_grant: {0}")]
    Grant(&'static str),
    /// A `grant_type` other than `authorization_code` or `refresh_token`.
    #[error("unsupported_grant_type")]
    GrantType,
    /// A refresh asked for more than was granted.
    #[error("invalid_scope")]
    Scope,
    /// The in-memory maps are full.
    #[error("temporarily_unavailable")]
    Unavailable,
    /// Signing the ID token failed.
    #[error("server_error: {0}")]
    Server(String),
}

// === impl Params ===

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query or a form body).
    pub(crate) fn parse(input: &[u8]) -> Params {
        let mut params = Params::default();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            let name = name.into_owned();
            match params.values.entry(name) {
                Entry::Occupied(seen) => params.repeated.push(seen.key().clone()),
                Entry::Vacant(slot) => {
                    slot.insert(value.into_owned());
                }
            }
        }
        params
    }

    /// The value of `name`, if sent (non-empty).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` was sent more than once.
    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    /// A parameter that was sent more than once, if any.
    pub(crate) fn any_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }
}

/// `value` as JSON with the headers RFC 6749 §5.1 asks of token responses.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A redirect (`302` for GET, `303` after a POST) to `base` with `params` added to its query;
/// `None` when `base` is not an absolute URL.
pub(crate) fn redirect(
    status: StatusCode,
    base: &str,
    params: &[(&str, &str)],
) -> Option<Response> {
    let mut url = url::Url::parse(base).ok()?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    let location = HeaderValue::from_str(url.as_str()).ok()?;
    let mut response = status.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

// === impl TokenError ===

impl TokenError {
    fn code(&self) -> &'static str {
        match self {
            TokenError::Request(_) => "invalid_request",
            TokenError::Client { .. } => "invalid_client",
            TokenError::Grant(_) => "invalid_grant",
            TokenError::GrantType => "unsupported_grant_type",
            TokenError::Scope => "invalid_scope",
            TokenError::Unavailable => "temporarily_unavailable",
            TokenError::Server(_) => "server_error",
        }
    }

    fn description(&self) -> String {
        match self {
            TokenError::Request(why) => why.clone(),
            TokenError::Client { .. } => "client authentication failed".into(),
            TokenError::Grant(why) => (*why).into(),
            TokenError::GrantType => {
                "grant_type must be authorization_code or refresh_token".into()
            }
            TokenError::Scope => "the requested scope exceeds the granted scope".into(),
            TokenError::Unavailable => "too many pending logins and tokens; try again later".into(),
            TokenError::Server(_) => "the provider failed; see its log".into(),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match self {
            TokenError::Client { .. } => StatusCode::UNAUTHORIZED,
            TokenError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            TokenError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({"error": self.code(), "error_description": self.description()});
        let mut response = json(status, &body);
        if let TokenError::Client { basic: true } = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"portcullis-dev\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_treat_empty_as_absent_and_note_repeats() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2&d=+");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.get("d"), Some(" "));
        assert!(p.is_repeated("a") && !p.is_repeated("c"));
        assert_eq!(p.any_repeated(), Some("a"));
    }

    #[test]
    fn token_errors_map_to_rfc_6749_codes_and_statuses() {
        let r = TokenError::Client { basic: true }.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
        let r = TokenError::Grant("x").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(TokenError::GrantType.code(), "unsupported_grant_type");
    }

    #[test]
    fn redirects_keep_the_base_query_and_encode_params() {
        let r = redirect(
            StatusCode::FOUND,
            "http://app/cb?x=1",
            &[("state", "a b&c")],
        )
        .unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()[header::LOCATION],
            "http://app/cb?x=1&state=a+b%26c"
        );
        assert!(redirect(StatusCode::FOUND, "not a url", &[]).is_none());
    }
}
