//! The demo upstream: an application that shows what the proxy told it about the user.

use axum::Router;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;

mod jwt;
mod render;

use jwt::Decoded;

/// The header that carries the identity JWT (design §5).
const ASSERTION: &str = "x-portcullis-jwt-assertion";
/// Identity headers the proxy sets all start with this.
const PREFIX: &str = "x-portcullis-";

/// An application for `portcullis dev` to protect: every path answers with a page (or JSON,
/// for `Accept: application/json`) that shows the request's `X-Portcullis-*` headers and the
/// header and claims of its `X-Portcullis-Jwt-Assertion`, with the email up front. The JWT is
/// decoded, *not verified*: a real application verifies it against the JWKS at
/// `/.well-known/portcullis/jwks.json`.
pub fn demo_upstream() -> Router {
    Router::new().fallback(show)
}

/// What the request said about its user.
#[derive(Debug)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    host: Option<String>,
    /// Every `x-portcullis-*` header, in order (lower-case names).
    identity: Vec<(String, String)>,
    jwt: Option<Decoded>,
    /// From the JWT's `email` claim, else `X-Portcullis-Claim-Email`.
    email: Option<String>,
}

async fn show(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let seen = Seen::new(&method, &uri, &headers);
    if wants_json(&headers) {
        render::json(&seen)
    } else {
        render::html(&seen)
    }
}

// === impl Seen ===

impl Seen {
    fn new(method: &Method, uri: &Uri, headers: &HeaderMap) -> Seen {
        let text = |v: &axum::http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
        let identity: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with(PREFIX))
            .map(|(name, value)| (name.as_str().to_owned(), text(value)))
            .collect();
        let jwt = headers.get(ASSERTION).map(|v| jwt::decode(&text(v)));
        let from_jwt = jwt.as_ref().and_then(Decoded::email);
        let from_header = headers.get("x-portcullis-claim-email").map(text);
        Seen {
            method: method.as_str().to_owned(),
            target: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            host: headers.get(header::HOST).map(text),
            identity,
            jwt,
            email: from_jwt.or(from_header),
        }
    }
}

/// JSON when `Accept` names `application/json` before (or without) `text/html`.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    match (accept.find("application/json"), accept.find("text/html")) {
        (Some(json), Some(html)) => json < html,
        (json, _) => json.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn accept(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        wants_json(&headers)
    }

    #[test]
    fn json_only_when_asked_for_first() {
        assert!(accept("application/json"));
        assert!(accept("Application/JSON; q=1, text/html;q=0.5"));
        assert!(!accept(
            "text/html,application/xhtml+xml,application/json;q=0.9"
        ));
        assert!(!accept("*/*"));
        assert!(!wants_json(&HeaderMap::new()));
    }

    #[test]
    fn identity_headers_are_collected_and_the_email_found() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-portcullis-claim-email",
            HeaderValue::from_static("bob@example.com"),
        );
        headers.insert("x-portcullis-claim-groups", HeaderValue::from_static("a,b"));
        headers.insert("cookie", HeaderValue::from_static("secret=1"));
        let uri: Uri = "/x?y=1".parse().unwrap();
        let seen = Seen::new(&Method::GET, &uri, &headers);
        assert_eq!(seen.email.as_deref(), Some("bob@example.com"));
        assert_eq!(seen.identity.len(), 2, "{:?}", seen.identity);
        assert_eq!(seen.target, "/x?y=1");
        assert!(seen.jwt.is_none());
    }
}
