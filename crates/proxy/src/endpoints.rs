//! Portcullis' own endpoints, answered before any route policy.
//!
//! On every host (even unknown ones): `/ping`, `/healthz` (`200 OK`), `/readyz`,
//! `/.well-known/portcullis/jwks.json` and the forward-auth `/.portcullis/verify`.
//! On every route host: `/.portcullis/` (user page), `/.portcullis/callback` (login
//! handoff), `/.portcullis/sign_out`, `/.portcullis/api/v1/login`. Any other path under
//! `/.portcullis/` or `/.well-known/portcullis/` is `404`: those prefixes never reach upstreams.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, header};
use hyper::body::Incoming;

use crate::pipeline::{Context, Step};
use crate::rescue::Failure;
use crate::routes::CompiledRoute;
use crate::server::ClientInfo;
use crate::snapshot::Snapshot;
use crate::target::Target;
use crate::{Proxy, ProxyBody, body, forward_auth};

mod callback;
pub(crate) mod csrf;
mod login_api;
mod page;
mod session;
mod sign_out;
mod user_page;

/// The component status (JSON), on every host.
pub(crate) const STATUS_PATH: &str = "/.portcullis/status";
/// The forward-auth endpoint.
pub(crate) const VERIFY_PATH: &str = "/.portcullis/verify";
/// The JWKS of the identity JWT signing key.
pub(crate) const JWKS_PATH: &str = "/.well-known/portcullis/jwks.json";
/// Sign out.
pub(crate) const SIGN_OUT_PATH: &str = "/.portcullis/sign_out";
/// The programmatic login API.
pub(crate) const LOGIN_API_PATH: &str = "/.portcullis/api/v1/login";

/// Everything an endpoint on a route host needs.
pub(crate) struct Call<'a> {
    pub(crate) proxy: &'a Arc<Proxy>,
    pub(crate) snapshot: &'a Snapshot,
    pub(crate) route: &'a Arc<CompiledRoute>,
    pub(crate) target: &'a Target,
    pub(crate) info: &'a ClientInfo,
    pub(crate) request_id: &'a str,
}

/// Answers the endpoints served on every host; hands any other request back.
pub(crate) async fn host_wide(
    proxy: &Arc<Proxy>,
    snapshot: &Arc<Snapshot>,
    request: Request<Incoming>,
    target: &Target,
    info: &ClientInfo,
    context: &mut Context,
) -> Result<Step<Request<Incoming>>, Failure> {
    let response = match target.path.as_str() {
        "/ping" | "/healthz" => text("OK\n"),
        "/readyz" => readyz(proxy, &request),
        STATUS_PATH => status(proxy),
        JWKS_PATH => {
            let mut response = Response::new(body::full(proxy.jwks.clone()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        VERIFY_PATH => {
            forward_auth::verify(proxy, snapshot, &request, target, info, context).await?
        }
        _ => return Ok(Step::Continue(request)),
    };
    Ok(Step::Respond(response))
}

/// True for paths only portcullis answers.
pub(crate) fn is_reserved(path: &str) -> bool {
    path == "/.portcullis"
        || path.starts_with("/.portcullis/")
        || path.starts_with("/.well-known/portcullis/")
}

/// Answers a reserved path on a route host (`route`: the host's first route).
pub(crate) async fn on_route_host(
    proxy: &Arc<Proxy>,
    snapshot: &Snapshot,
    route: &Arc<CompiledRoute>,
    request: Request<Incoming>,
    target: &Target,
    info: &ClientInfo,
    context: &Context,
) -> Result<Response<ProxyBody>, Failure> {
    let call = Call {
        proxy,
        snapshot,
        route,
        target,
        info,
        request_id: &context.log.request_id,
    };
    let method = request.method().clone();
    let read_only = method == Method::GET || method == Method::HEAD;
    match target.path.as_str() {
        "/.portcullis" | "/.portcullis/" if read_only => user_page::serve(&call, &request).await,
        portcullis_grpc::handoff::CALLBACK_PATH if read_only => callback::serve(&call, &request),
        SIGN_OUT_PATH if read_only => Ok(sign_out::confirm(&call, &request)),
        SIGN_OUT_PATH if method == Method::POST => sign_out::sign_out(&call, request).await,
        LOGIN_API_PATH if read_only => login_api::serve(&call),
        "/.portcullis"
        | "/.portcullis/"
        | portcullis_grpc::handoff::CALLBACK_PATH
        | SIGN_OUT_PATH
        | LOGIN_API_PATH => Err(Failure::MethodNotAllowed),
        _ => Err(Failure::NotFound),
    }
}

/// `200` with a plain-text body.
/// `/readyz`: `200 ready`, or `503` naming what is not ready (JSON for `Accept: …json`).
fn readyz(proxy: &Proxy, request: &Request<Incoming>) -> Response<ProxyBody> {
    let report = report(proxy);
    let json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let (body, content_type) = if json {
        (report.to_json().to_string(), "application/json")
    } else {
        (report.text(), "text/plain; charset=utf-8")
    };
    let mut response = Response::new(body::full(body));
    if !report.ready {
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    }
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The process's readiness, draining once the proxy's shutdown has begun.
fn report(proxy: &Proxy) -> portcullis_telemetry::HealthReport {
    let mut report = proxy.health.report();
    if *proxy.closing.borrow() {
        report.draining = true;
        report.ready = false;
    }
    report
}

/// `/.portcullis/status`: every component and its state, as JSON (`200` even when not
/// ready: it describes, `/readyz` decides). Names and booleans only, nothing secret.
fn status(proxy: &Proxy) -> Response<ProxyBody> {
    let mut body = report(proxy).to_json();
    body["version"] = env!("CARGO_PKG_VERSION").into();
    let mut response = Response::new(body::full(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn text(body: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(body::full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
