//! The authorize interface: one request in, one decision out.
//!
//! The proxy (and the forward-auth endpoint) hold an `Arc<dyn Authorizer>`: in all-in-one mode
//! the in-process engine of `portcullis-authorize`, in split mode a gRPC client that speaks
//! Envoy's `Check` (`portcullis_grpc::AuthorizeClient`). Both answer every request: failures
//! are decisions too (`503`), never errors the caller could mistake for an allow.

use std::fmt;
use std::net::IpAddr;

/// The request context key (Envoy `context_extensions`) naming the route to authorize for.
pub const ROUTE_ID_KEY: &str = "route_id";

/// One request to authorize.
///
/// `Debug` prints header names only: values carry cookies and bearer tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The route (`Route::id`) the proxy matched. `None`: authorize matches the route itself
    /// by host and path (Envoy without per-route `context_extensions`).
    pub route_id: Option<String>,
    /// `x-request-id` (or Envoy's request id); empty when unknown.
    pub request_id: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// `https` or `http`.
    pub scheme: String,
    /// The `Host` / `:authority`, with a port when one was given.
    pub host: String,
    /// The path, without the query.
    pub path: String,
    /// The query string without `?`; empty when none.
    pub query: String,
    /// The request headers, names lower-case, in arrival order (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// The client's address as the proxy saw it.
    pub client_address: Option<IpAddr>,
    /// The client certificate (DER) the TLS layer verified, if the client sent one.
    pub client_certificate: Option<Vec<u8>>,
}

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeDecision {
    /// Forward it upstream with these header changes.
    Allow(Allow),
    /// Answer the client with this response.
    Deny(Deny),
}

/// An allowed request's header changes, applied before forwarding upstream.
///
/// `Debug` prints header names only: the identity JWT is a credential.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Allow {
    /// Headers to set, replacing any value the client sent.
    pub set_headers: Vec<(String, String)>,
    /// Headers (lower-case) to remove: credentials and client-sent identity headers.
    pub remove_headers: Vec<String>,
    /// The signed-in user's id (for the access log); empty for anonymous access.
    pub user: String,
}

/// A denied request's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deny {
    /// `302` (to sign in), `401`, `403`, `404` (no route), `500`, `503`.
    pub status: u16,
    /// Response headers (`location`, `content-type`, `grpc-status`, ...).
    pub headers: Vec<(String, String)>,
    /// A short body, safe to show the client.
    pub body: String,
    /// Why, in the policy's vocabulary (`email-unauthorized`, `user-unauthenticated`, ...).
    pub reasons: Vec<String>,
}

/// Decides requests. Implemented by the in-process engine and by the `Check` client.
#[async_trait::async_trait]
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// Decides one request. Never fails: trouble (the databroker or authorize unreachable)
    /// comes back as a `503` [`Deny`].
    async fn authorize(&self, request: &AuthorizeRequest) -> AuthorizeDecision;
}

// === impl AuthorizeRequest ===

impl AuthorizeRequest {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower-case).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The URL the client asked for: `scheme://host/path?query`.
    pub fn url(&self) -> String {
        let scheme = if self.scheme.is_empty() {
            "https"
        } else {
            &self.scheme
        };
        let mut url = format!("{scheme}://{}{}", self.host, self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        url
    }
}

impl fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeRequest")
            .field("route_id", &self.route_id)
            .field("request_id", &self.request_id)
            .field("method", &self.method)
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("headers", &HeaderNames(&self.headers))
            .field("client_address", &self.client_address)
            .field("client_certificate", &self.client_certificate.is_some())
            .finish_non_exhaustive()
    }
}

// === impl AuthorizeDecision ===

impl AuthorizeDecision {
    /// True for [`AuthorizeDecision::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, AuthorizeDecision::Allow(_))
    }

    /// The HTTP status the client gets (200 for an allow: the upstream decides).
    pub fn status(&self) -> u16 {
        match self {
            AuthorizeDecision::Allow(_) => 200,
            AuthorizeDecision::Deny(d) => d.status,
        }
    }

    /// True for [`AuthorizeDecision::unavailable`]: no decision was made, so the caller
    /// answers with its own error page (and request id) rather than a policy denial.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthorizeDecision::Deny(d) if d.status == 503 && d.reasons == [UNAVAILABLE])
    }

    /// A `503`: no decision could be made (authorize or the databroker unreachable).
    pub fn unavailable() -> AuthorizeDecision {
        AuthorizeDecision::Deny(Deny {
            status: 503,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: "503 service unavailable: authorization is not possible right now\n".into(),
            reasons: vec![UNAVAILABLE.into()],
        })
    }
}

/// The one reason of [`AuthorizeDecision::unavailable`].
const UNAVAILABLE: &str = "unavailable";

// === impl Allow ===

impl Allow {
    /// The value set for header `name` (lower-case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.set_headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Allow")
            .field("set_headers", &HeaderNames(&self.set_headers))
            .field("remove_headers", &self.remove_headers)
            .field("user", &self.user)
            .finish()
    }
}

// === impl Deny ===

impl Deny {
    /// The value of response header `name` (lower-case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct HeaderNames<'a>(&'a [(String, String)]);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_header_values() {
        let request = AuthorizeRequest {
            headers: vec![("cookie".into(), "_portcullis=secret-handle".into())],
            ..AuthorizeRequest::default()
        };
        let allow = Allow {
            set_headers: vec![("x-portcullis-jwt-assertion".into(), "eyJsecret".into())],
            remove_headers: vec![],
            user: String::new(),
        };
        let text = format!("{request:?} {allow:?}");
        assert!(
            text.contains("cookie") && !text.contains("secret"),
            "{text}"
        );
    }

    #[test]
    fn only_the_no_decision_deny_is_unavailable() {
        assert!(AuthorizeDecision::unavailable().is_unavailable());
        let policy_503 = AuthorizeDecision::Deny(Deny {
            status: 503,
            headers: vec![],
            body: String::new(),
            reasons: vec!["email-unauthorized".into()],
        });
        assert!(!policy_503.is_unavailable());
    }

    #[test]
    fn url_rebuilds_the_request_target() {
        let request = AuthorizeRequest {
            scheme: "https".into(),
            host: "app.example.com".into(),
            path: "/a".into(),
            query: "b=1".into(),
            ..AuthorizeRequest::default()
        };
        assert_eq!(request.url(), "https://app.example.com/a?b=1");
    }
}
