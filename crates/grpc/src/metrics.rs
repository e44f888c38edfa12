//! gRPC call metrics: [`MetricsLayer`] counts and times every call a server answers
//! (`portcullis_grpc_server_calls_total{method, code}`, `…_duration_seconds{method}`);
//! [`record_client_call`] does the same for calls a client made.
//!
//! The status code is read where gRPC puts it: the response head for trailers-only answers
//! (errors), else the trailers after the last message. A call whose body is dropped before
//! its trailers (the client went away) counts as `Cancelled`. A method the server does not
//! have counts as `unknown`, so clients cannot inflate the label set.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tonic::Code;

/// The layer to put in front of a gRPC server's routes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

/// A service whose calls are recorded.
#[derive(Debug, Clone)]
pub struct Metered<S>(S);

/// A response body that records the call when its trailers pass (or it is dropped).
#[derive(Debug)]
pub struct MeteredBody<B> {
    inner: B,
    pending: Option<Call>,
}

#[derive(Debug)]
struct Call {
    method: String,
    started: Instant,
}

/// The name of a gRPC status code, as the metrics label it (`Ok`, `Unavailable`, …).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "Ok",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Records one call a client made to `method` (`/pkg.Service/Method`).
pub fn record_client_call(method: &'static str, code: Code, took: Duration) {
    portcullis_telemetry::metrics().grpc_client_call(method, code_name(code), took);
}

/// The code in a `grpc-status` header, if there is one.
fn status_of(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.parse().ok()?))
}

// === impl MetricsLayer ===

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Metered<S> {
        Metered(inner)
    }
}

// === impl Metered ===

impl<S, B, R> tower::Service<http::Request<B>> for Metered<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<MeteredBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = Call {
            method: request.uri().path().to_owned(),
            started: Instant::now(),
        };
        let response = self.0.call(request);
        Box::pin(async move {
            let response = response.await?;
            let pending = match status_of(response.headers()) {
                Some(code) => {
                    call.finish(code);
                    None
                }
                None => Some(call),
            };
            Ok(response.map(|inner| MeteredBody { inner, pending }))
        })
    }
}

// === impl Call ===

impl Call {
    fn finish(self, code: Code) {
        portcullis_telemetry::metrics().grpc_server_call(
            &self.method,
            code_name(code),
            self.started.elapsed(),
        );
    }
}

// === impl MeteredBody ===

impl<B: Body + Unpin> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(status_of)
                    && let Some(call) = self.pending.take()
                {
                    call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(call) = self.pending.take() {
                    call.finish(Code::Internal);
                }
            }
            Poll::Ready(None) => {
                if let Some(call) = self.pending.take() {
                    call.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MeteredBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.pending.take() {
            call.finish(Code::Cancelled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_grpc_status_header() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_of(&headers), None);
        headers.insert("grpc-status", http::HeaderValue::from_static("14"));
        assert_eq!(status_of(&headers), Some(Code::Unavailable));
        assert_eq!(code_name(Code::Unavailable), "Unavailable");
    }
}
