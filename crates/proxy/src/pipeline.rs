//! The request pipeline after the target is known (design §3):
//!
//! ```text
//! host-wide endpoint? (/ping, /healthz, jwks, verify) ── yes ─▶ answer
//! route host's /.portcullis/* endpoint?               ── yes ─▶ answer
//! match route                                         ── none ─▶ 404
//! authorize (every request)                           ── Deny ─▶ the Deny response, as-is
//! forward (rewrite, upstream, stream back)            ── fail ─▶ 502 / 504
//! ```
//! Each step returns a [`Step`]: go on with what it produced, or answer now.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, Deny};

use crate::access_log::AccessLog;
use crate::endpoints;
use crate::forward;
use crate::rescue::Failure;
use crate::routes::CompiledRoute;
use crate::server::ClientInfo;
use crate::snapshot::Snapshot;
use crate::target::Target;
use crate::{Proxy, ProxyBody, body};

/// The outcome of one step.
pub(crate) enum Step<T> {
    /// Go on with this.
    Continue(T),
    /// Answer the client with this.
    Respond(Response<ProxyBody>),
}

/// Per-request state the steps fill in.
#[derive(Debug)]
pub(crate) struct Context {
    /// The access line.
    pub(crate) log: AccessLog,
    /// The matched route (its response headers win over the global ones).
    pub(crate) route: Option<Arc<CompiledRoute>>,
    /// How the client wants portcullis' own error pages.
    pub(crate) format: crate::rescue::Format,
}

/// Runs the pipeline for a request whose target parsed.
pub(crate) async fn run(
    proxy: &Arc<Proxy>,
    snapshot: &Arc<Snapshot>,
    request: Request<Incoming>,
    target: Target,
    info: &ClientInfo,
    context: &mut Context,
) -> Response<ProxyBody> {
    match steps(proxy, snapshot, request, &target, info, context).await {
        Ok(response) => response,
        Err(failure) => failure.respond(&context.log.request_id, context.format),
    }
}

async fn steps(
    proxy: &Arc<Proxy>,
    snapshot: &Arc<Snapshot>,
    request: Request<Incoming>,
    target: &Target,
    info: &ClientInfo,
    context: &mut Context,
) -> Result<Response<ProxyBody>, Failure> {
    let request =
        match endpoints::host_wide(proxy, snapshot, request, target, info, context).await? {
            Step::Respond(response) => return Ok(response),
            Step::Continue(request) => request,
        };
    let host = snapshot.routes.host(&target.host, target.port);
    if endpoints::is_reserved(&target.path) {
        let route = host.first().ok_or(Failure::NoRoute)?;
        context.log.route = Some(route.route.id.clone());
        return endpoints::on_route_host(proxy, snapshot, route, request, target, info, context)
            .await;
    }
    let route = Arc::clone(host.find(&target.path).ok_or(Failure::NoRoute)?);
    context.log.route = Some(route.route.id.clone());
    context.route = Some(Arc::clone(&route));

    let scheme = public_scheme(info, &route);
    let check = authorize_request(
        Some(&route.route.id),
        &context.log.request_id,
        request.method(),
        scheme,
        target,
        request.headers(),
        info,
    );
    let mut allow = match authorize(proxy, &check).await? {
        Step::Respond(response) => return Ok(response),
        Step::Continue(allow) => allow,
    };
    context.log.user = std::mem::take(&mut allow.user);
    forward::forward(
        proxy,
        snapshot,
        &route,
        request,
        target,
        info,
        forward::Decided {
            scheme,
            allow,
            check,
        },
        context,
    )
    .await
}

/// Asks the authorizer; a deny is answered as it says. No decision at all (authorize
/// unreachable) is the proxy's own 503 page, with the request id.
pub(crate) async fn authorize(
    proxy: &Proxy,
    check: &AuthorizeRequest,
) -> Result<Step<portcullis_proto::Allow>, Failure> {
    match proxy.authorizer.authorize(check).await {
        AuthorizeDecision::Allow(allow) => Ok(Step::Continue(allow)),
        decision if decision.is_unavailable() => Err(Failure::Unavailable(
            "no authorization decision could be made".into(),
        )),
        AuthorizeDecision::Deny(deny) => Ok(Step::Respond(deny_response(deny))),
    }
}

/// The scheme the client used, as upstreams and sign-in URLs should see it: `https` on a
/// TLS listener, else the route's `from` scheme (a TLS terminator in front of an
/// `insecure_server` proxy serves the `from` URL).
pub(crate) fn public_scheme(info: &ClientInfo, route: &CompiledRoute) -> &'static str {
    if info.tls || route.route.from.scheme() == "https" {
        "https"
    } else {
        "http"
    }
}

/// The authorize request for one client request.
pub(crate) fn authorize_request(
    route_id: Option<&str>,
    request_id: &str,
    method: &Method,
    scheme: &str,
    target: &Target,
    headers: &HeaderMap,
    info: &ClientInfo,
) -> AuthorizeRequest {
    AuthorizeRequest {
        route_id: route_id.map(str::to_owned),
        request_id: request_id.to_owned(),
        method: method.as_str().to_owned(),
        scheme: scheme.to_owned(),
        host: target.authority.clone(),
        path: target.path.clone(),
        query: target.query.clone().unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        client_address: (!info.remote.ip().is_unspecified()).then(|| info.remote.ip()),
        client_certificate: info.client_certificate.as_deref().map(<[u8]>::to_vec),
    }
}

/// The response authorize asked for: its status, headers and body, unchanged.
pub(crate) fn deny_response(deny: Deny) -> Response<ProxyBody> {
    let mut response = Response::new(body::full(deny.body));
    *response.status_mut() =
        StatusCode::from_u16(deny.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &deny.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_responses_pass_through() {
        let response = deny_response(Deny {
            status: 302,
            headers: vec![
                ("location".into(), "https://auth.example.com/x".into()),
                ("bad header".into(), "dropped".into()),
            ],
            body: String::new(),
            reasons: vec![],
        });
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["location"], "https://auth.example.com/x");
        assert_eq!(response.headers().len(), 1);
    }

    #[test]
    fn authorize_requests_carry_the_normalized_target() {
        let target = Target {
            authority: "app.example.com:8443".into(),
            host: "app.example.com".into(),
            port: Some(8443),
            path: "/admin".into(),
            query: Some("a=1".into()),
        };
        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_static("_portcullis=t"));
        let info = ClientInfo {
            remote: "203.0.113.5:4000".parse().unwrap(),
            tls: true,
            server_name: None,
            client_certificate: None,
        };
        let check = authorize_request(
            Some("r"),
            "id-1",
            &Method::GET,
            "https",
            &target,
            &headers,
            &info,
        );
        assert_eq!(check.url(), "https://app.example.com:8443/admin?a=1");
        assert_eq!(check.header("cookie"), Some("_portcullis=t"));
        assert_eq!(check.client_address, Some("203.0.113.5".parse().unwrap()));
        assert_eq!(check.route_id.as_deref(), Some("r"));
    }
}
