//! The forwarding step: rewrite the request for the upstream, send it on a pooled
//! connection — trying the next upstream when one refuses the connection and the body is
//! still unread — and stream the response back within the route's `timeout` (`504` when the
//! upstream does not answer in time) and `idle_timeout`.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, Version, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use portcullis_proto::{Allow, AuthorizeRequest};
use tokio::time::Instant;

use crate::body::{Reclaimable, Timed};
use crate::headers::{self, Forwarded, REQUEST_ID};
use crate::pipeline::Context;
use crate::rescue::Failure;
use crate::rewrite;
use crate::routes::CompiledRoute;
use crate::server::ClientInfo;
use crate::snapshot::Snapshot;
use crate::target::Target;
use crate::upgrade::{self, Tunnel};
use crate::{BoxError, Proxy, ProxyBody};

/// What authorize decided, and what the request looked like to it.
#[derive(Debug)]
pub(crate) struct Decided {
    /// The scheme the client used (see [`crate::pipeline::public_scheme`]).
    pub(crate) scheme: &'static str,
    /// The header changes.
    pub(crate) allow: Allow,
    /// The request authorize saw (upgraded connections are re-checked with it).
    pub(crate) check: AuthorizeRequest,
}

/// Forwards an allowed request to `route`'s upstreams.
// Each argument is a different piece of the request's state; a bundle struct would only
// rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward(
    proxy: &Arc<Proxy>,
    snapshot: &Snapshot,
    route: &Arc<CompiledRoute>,
    mut request: Request<Incoming>,
    target: &Target,
    info: &ClientInfo,
    decided: Decided,
    context: &mut Context,
) -> Result<Response<ProxyBody>, Failure> {
    let upgrade = route.route.allow_websockets
        && request.version() <= Version::HTTP_11
        && headers::is_upgrade(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();

    let mut head = parts.headers;
    headers::remove_hop_by_hop(&mut head, upgrade);
    snapshot.credentials.strip(&mut head);
    headers::apply_allow(&mut head, &decided.allow);
    for name in &route.remove_request_headers {
        head.remove(name);
    }
    headers::set_all(&mut head, &route.set_request_headers);
    headers::set_forwarded(
        &mut head,
        &Forwarded {
            client: info.remote.ip(),
            proto: decided.scheme,
            host: &target.authority,
        },
    );
    if let Ok(id) = context.log.request_id.parse() {
        head.insert(REQUEST_ID, id);
    }

    let path = rewrite::rewrite_path(&route.route, &target.path);
    let timeout = route.route.timeout;
    let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
    let body = Reclaimable::new(body.map_err(BoxError::from).boxed_unsync());
    let mut last_error: Option<BoxError> = None;

    for upstream in route.upstreams.order() {
        let Some(attempt) = body.attempt() else { break };
        let uri = rewrite::upstream_uri(upstream, &path, target.query.as_deref())
            .map_err(|e| Failure::Internal(format!("upstream URI: {e}")))?;
        let mut outgoing = Request::new(attempt);
        *outgoing.method_mut() = parts.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = head.clone();
        outgoing.headers_mut().insert(
            header::HOST,
            rewrite::upstream_host(&route.route, upstream, &target.authority),
        );
        context.log.upstream = Some(upstream.label.clone());

        let sent = within(deadline, upstream.client.request(outgoing)).await;
        match sent {
            None => {
                route.metrics.upstream_timeout();
                return Err(Failure::UpstreamTimeout);
            }
            Some(Ok(response)) => {
                upstream.mark_up();
                return respond(proxy, route, response, deadline, client_upgrade, decided);
            }
            Some(Err(error)) if error.is_connect() => {
                tracing::warn!(
                    request_id = %context.log.request_id,
                    upstream = %upstream.label,
                    error = %crate::rescue::ErrorChain(&error),
                    "upstream connect failed"
                );
                upstream.mark_down();
                route.metrics.upstream_connect_error();
                last_error = Some(error.into());
            }
            // The client's own body broke off mid-way (a bad chunk, say): its fault, not the
            // upstream's.
            Some(Err(error)) if client_body_failed(&error) => {
                tracing::debug!(
                    request_id = %context.log.request_id,
                    error = %crate::rescue::ErrorChain(&error),
                    "the request body could not be read"
                );
                return Err(Failure::BadRequest("the request body could not be read"));
            }
            Some(Err(error)) => {
                route.metrics.upstream_protocol_error();
                return Err(Failure::Upstream(error.into()));
            }
        }
    }
    Err(Failure::UpstreamConnect(last_error.unwrap_or_else(|| {
        "the route has no upstream to try".into()
    })))
}

/// True when sending failed because the request body (the client's) yielded an error:
/// hyper reports that as a "user" error whose cause is the body's.
fn client_body_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_user() && std::error::Error::source(h).is_some())
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The upstream's response, ready for the client.
fn respond(
    proxy: &Arc<Proxy>,
    route: &Arc<CompiledRoute>,
    mut response: Response<Incoming>,
    deadline: Option<Instant>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    decided: Decided,
) -> Result<Response<ProxyBody>, Failure> {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        let Some(client) = client_upgrade else {
            return Err(Failure::Upstream(
                "the upstream switched protocols without being asked".into(),
            ));
        };
        let upstream = hyper::upgrade::on(&mut response);
        upgrade::spawn(Tunnel {
            client,
            upstream,
            authorizer: Arc::clone(&proxy.authorizer),
            check: decided.check,
            idle: route.route.idle_timeout,
            closing: proxy.closing.subscribe(),
        });
    }
    let (mut parts, body) = response.into_parts();
    headers::remove_hop_by_hop(&mut parts.headers, switching);
    headers::set_all(&mut parts.headers, &route.set_response_headers);
    let body = if switching {
        crate::body::empty()
    } else {
        Timed::new(body, deadline, route.route.idle_timeout).boxed_unsync()
    };
    Ok(Response::from_parts(parts, body))
}

/// `future`, bounded by `deadline` (`None`: when it passed).
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

/// How often open upgraded connections are re-authorized.
pub(crate) const REAUTHORIZE_EVERY: Duration = Duration::from_secs(1);
