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

use http::{HeaderValue, Response, StatusCode, header};

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

    /// The response for this failure of request `request_id`, with the cause logged.
    pub(crate) fn respond(&self, request_id: &str) -> Response<ProxyBody> {
        let status = self.status();
        match status.as_u16() {
            500..=599 => tracing::warn!(request_id, error = %ErrorChain(self), "request failed"),
            _ => tracing::debug!(request_id, error = %self, "request refused"),
        }
        let text = format!(
            "{} {}: {}\nrequest id: {request_id}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            self.public_message()
        );
        let mut response = Response::new(body::full(text));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        }
        response
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
    fn clients_learn_the_status_not_the_cause() {
        let failure = Failure::UpstreamConnect("connect to 10.0.0.7:8080: refused".into());
        let response = failure.respond("req-1");
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
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
