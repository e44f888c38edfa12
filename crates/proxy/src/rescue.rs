//! The one place where failures become responses: the client gets a status and a short,
//! safe message with the request id; the log gets the cause.
//!
//! | failure | status | fault |
//! |---|---|---|
//! | [`Failure::BadRequest`] | 400 | client |
//! | [`Failure::Forbidden`] | 403 | client |
//! | [`Failure::NoRoute`], [`Failure::NotFound`] | 404 | client |
//! | [`Failure::MethodNotAllowed`] | 405 | client |
//! | [`Failure::TooLarge`] | 413 | client |
//! | [`Failure::HeadTooLarge`] | 431 | client |
//! | [`Failure::UpstreamConnect`], [`Failure::Upstream`] | 502 | upstream |
//! | [`Failure::UpstreamTimeout`] | 504 | upstream |
//! | [`Failure::Unavailable`] | 503 | internal (a dependency) |
//! | [`Failure::Internal`] | 500 | internal |

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use portcullis_proto::html::{ErrorPage, SECURITY_HEADERS};

use crate::{BoxError, ProxyBody, body};

/// The largest request head (target and headers) the proxy accepts: 64 KiB.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// Why a request could not be served as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The request is malformed; the message is safe to show.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Refused (CSRF check, untrusted forward-auth peer); the message is safe to show.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No route for the host and path.
    #[error("no route matches the request")]
    NoRoute,
    /// An endpoint that does not exist.
    #[error("not found")]
    NotFound,
    /// The endpoint does not take this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request head is over [`MAX_HEAD`].
    #[error("request headers too large")]
    HeadTooLarge,
    /// A body over the endpoint's limit.
    #[error("request body too large")]
    TooLarge,
    /// No upstream accepted a connection.
    #[error("no upstream could be connected to")]
    UpstreamConnect(#[source] BoxError),
    /// The upstream failed mid-exchange or answered with something that is not HTTP.
    #[error("upstream failed")]
    Upstream(#[source] BoxError),
    /// The route's `timeout` passed before the upstream answered.
    #[error("the upstream did not answer within the route timeout")]
    UpstreamTimeout,
    /// A dependency (the databroker) could not be reached.
    #[error("unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or an impossible state; the client learns nothing more.
    #[error("internal error: {0}")]
    Internal(String),
}

// === impl Failure ===

impl Failure {
    /// The status the client gets.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::Forbidden(_) => StatusCode::FORBIDDEN,
            Failure::NoRoute | Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Failure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Failure::UpstreamConnect(_) | Failure::Upstream(_) => StatusCode::BAD_GATEWAY,
            Failure::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told.
    fn public_message(&self) -> &'static str {
        match self {
            Failure::BadRequest(m) | Failure::Forbidden(m) => m,
            Failure::NoRoute => "no route for this host and path",
            Failure::NotFound => "not found",
            Failure::MethodNotAllowed => "method not allowed",
            Failure::TooLarge => "request body too large",
            Failure::HeadTooLarge => "request headers too large",
            Failure::UpstreamConnect(_) => "the upstream could not be reached",
            Failure::Upstream(_) => "the upstream failed",
            Failure::UpstreamTimeout => "the upstream did not answer in time",
            Failure::Unavailable(_) => "a service portcullis needs is unavailable",
            Failure::Internal(_) => "internal error",
        }
    }

    /// The response for this failure of request `request_id`, with the cause logged: a
    /// small page in the `format` the client asked for.
    pub(crate) fn respond(&self, request_id: &str, format: Format) -> Response<ProxyBody> {
        let status = self.status();
        match status.as_u16() {
            500..=599 => tracing::warn!(request_id, error = %ErrorChain(self), "request failed"),
            _ => tracing::debug!(request_id, error = %self, "request refused"),
        }
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("error"),
            message: self.public_message(),
            request_id,
            reasons: None,
        };
        let (text, content_type) = match format {
            Format::Html => (page.html(), "text/html; charset=utf-8"),
            Format::Json => (page.json(), "application/json"),
            Format::Text => (
                format!(
                    "{} {}: {}\nrequest id: {request_id}\n",
                    status.as_u16(),
                    page.title,
                    page.message
                ),
                "text/plain; charset=utf-8",
            ),
        };
        let mut response = Response::new(body::full(text));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in SECURITY_HEADERS {
            headers.insert(name, HeaderValue::from_static(value));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        }
        response
    }
}

/// How a client wants portcullis' own error pages: JSON when it accepts
/// `application/json`, HTML when it accepts `text/html` (browsers), else plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    Json,
    Text,
}

impl Format {
    /// The format `headers`' `Accept` asks for.
    pub(crate) fn of(headers: &HeaderMap) -> Format {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let mut format = Format::Text;
        for value in accept {
            for media in value.split(',') {
                let media = media.split(';').next().unwrap_or_default().trim();
                if media.eq_ignore_ascii_case("application/json") {
                    return Format::Json;
                }
                if media.eq_ignore_ascii_case("text/html") {
                    format = Format::Html;
                }
            }
        }
        format
    }
}

/// Displays an error with its sources: `a: b: c`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_accept() {
        let mut headers = HeaderMap::new();
        assert_eq!(Format::of(&headers), Format::Text);
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,*/*;q=0.8"),
        );
        assert_eq!(Format::of(&headers), Format::Html);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(Format::of(&headers), Format::Json);
    }

    #[test]
    fn clients_learn_the_status_not_the_cause() {
        let failure = Failure::UpstreamConnect("connect to 10.0.0.7:8080: refused".into());
        let response = failure.respond("req-1", Format::Text);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let text = ErrorChain(&failure).to_string();
        assert!(text.contains("10.0.0.7"), "the log keeps the cause");
        assert_eq!(
            Failure::UpstreamTimeout.status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert!(
            !Failure::Internal("secret detail".into())
                .public_message()
                .contains("secret")
        );
    }
}
