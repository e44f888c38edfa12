//! `/.portcullis/verify`: the authorize decision for gateways that proxy themselves (nginx
//! `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`), on any host.
//!
//! The original request is read from `X-Original-URL` (+ `X-Original-Method`), else from
//! `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Uri`, `X-Forwarded-Method` — and
//! **only** when the peer's address is in `forward_auth_trusted_addresses`: anyone else gets
//! `403` (a gateway that is not listed is a misconfiguration to fix, not something to guess
//! around). The client address policy sees is the last `X-Forwarded-For` entry the gateway
//! appended (else the gateway's own).
//!
//! | decision | response |
//! |---|---|
//! | allow | `200`, the identity headers (`X-Portcullis-Jwt-Assertion`, claim headers) |
//! | not signed in | `401` with `Location: <signed sign-in URL>` for browsers; `?redirect=true`: that `302` itself |
//! | forbidden | `403` |
//! | no route for the original host and path | `403` |

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use portcullis_proto::AuthorizeDecision;
use url::Url;

use crate::normalize::normalize;
use crate::pipeline::{Context, authorize_request, deny_response};
use crate::rescue::Failure;
use crate::server::ClientInfo;
use crate::snapshot::Snapshot;
use crate::target::{Target, split_authority};
use crate::{Proxy, ProxyBody, body};

/// The request the gateway is asking about.
#[derive(Debug, PartialEq, Eq)]
struct Original {
    method: Method,
    scheme: String,
    target: Target,
}

pub(crate) async fn verify<B>(
    proxy: &Arc<Proxy>,
    snapshot: &Arc<Snapshot>,
    request: &Request<B>,
    target: &Target,
    info: &ClientInfo,
    context: &mut Context,
) -> Result<Response<ProxyBody>, Failure> {
    let peer = info.remote.ip();
    if !snapshot
        .trusted_forwarders
        .iter()
        .any(|n| n.contains(&peer))
    {
        tracing::warn!(%peer, "forward-auth request from an address not in forward_auth_trusted_addresses");
        return Err(Failure::Forbidden(
            "forward-auth is not accepted from this address (forward_auth_trusted_addresses)",
        ));
    }
    let listener_scheme = if info.tls { "https" } else { "http" };
    let original = original(request.headers(), target, listener_scheme)?;
    let redirect = target.query.as_deref().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "redirect" && v == "true")
    });
    context.log.host.clone_from(&original.target.authority);
    context.log.path.clone_from(&original.target.path);
    let routes = snapshot
        .routes
        .host(&original.target.host, original.target.port);
    let Some(route) = routes.find(&original.target.path) else {
        return Err(Failure::Forbidden("no route for the original request"));
    };
    context.log.route = Some(route.route.id.clone());
    let mut client = info.clone();
    client
        .remote
        .set_ip(forwarded_client(request.headers()).unwrap_or(peer));
    let check = authorize_request(
        Some(&route.route.id),
        &context.log.request_id,
        &original.method,
        &original.scheme,
        &original.target,
        request.headers(),
        &client,
    );
    Ok(match proxy.authorizer.authorize(&check).await {
        AuthorizeDecision::Allow(allow) => {
            let mut response = Response::new(body::empty());
            for (name, value) in &allow.set_headers {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) && name != header::COOKIE
                {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        AuthorizeDecision::Deny(deny) if deny.status == 302 && !redirect => {
            let mut response = deny_response(deny);
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        AuthorizeDecision::Deny(deny) => deny_response(deny),
    })
}

/// Reads the original request from the gateway's headers.
fn original(
    headers: &HeaderMap,
    verify: &Target,
    listener_scheme: &str,
) -> Result<Original, Failure> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bad = Failure::BadRequest;
    let method = text("x-original-method")
        .or_else(|| text("x-forwarded-method"))
        .unwrap_or("GET");
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| bad("bad original method"))?;

    let (scheme, authority, path_and_query) = if let Some(url) = text("x-original-url") {
        let url = Url::parse(url).map_err(|_| bad("X-Original-URL is not a URL"))?;
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(bad("X-Original-URL has no host")),
        };
        let pq = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        (url.scheme().to_owned(), authority, pq)
    } else {
        let scheme = text("x-forwarded-proto").unwrap_or(listener_scheme);
        let authority = text("x-forwarded-host").unwrap_or(&verify.authority);
        // A list (several proxies): the first is the client's.
        let authority = authority.split(',').next().unwrap_or_default().trim();
        let uri = text("x-forwarded-uri").unwrap_or("/");
        (scheme.to_owned(), authority.to_owned(), uri.to_owned())
    };
    if !matches!(scheme.as_str(), "http" | "https") {
        return Err(bad("the original scheme must be http or https"));
    }
    let authority: http::uri::Authority = authority
        .parse()
        .map_err(|_| bad("the original host is invalid"))?;
    let (host, port) =
        split_authority(&authority).map_err(|_| bad("the original host is invalid"))?;
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (path_and_query.as_str(), None),
    };
    let path = normalize(path).map_err(|_| bad("the original path is invalid"))?;
    Ok(Original {
        method,
        scheme,
        target: Target {
            authority: authority.as_str().to_ascii_lowercase(),
            host,
            port,
            path,
            query,
        },
    })
}

/// The rightmost `X-Forwarded-For` address: the one the trusted gateway appended.
fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn verify_target() -> Target {
        Target {
            authority: "auth-gw.internal".into(),
            host: "auth-gw.internal".into(),
            port: None,
            path: "/.portcullis/verify".into(),
            query: None,
        }
    }

    #[test]
    fn the_original_request_from_nginx_headers() {
        let h = headers(&[
            (
                "x-original-url",
                "https://App.example.com:8443/a/../admin?x=1",
            ),
            ("x-original-method", "POST"),
        ]);
        let o = original(&h, &verify_target(), "http").unwrap();
        assert_eq!(o.method, Method::POST);
        assert_eq!(o.scheme, "https");
        assert_eq!(o.target.host, "app.example.com");
        assert_eq!(o.target.port, Some(8443));
        assert_eq!(o.target.path, "/admin");
        assert_eq!(o.target.query.as_deref(), Some("x=1"));
    }

    #[test]
    fn the_original_request_from_traefik_headers() {
        let h = headers(&[
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/%2e%2e/admin?y"),
        ]);
        let o = original(&h, &verify_target(), "http").unwrap();
        assert_eq!(o.method, Method::DELETE);
        assert_eq!(o.target.authority, "app.example.com");
        assert_eq!(o.target.path, "/admin");
        assert_eq!(o.target.query.as_deref(), Some("y"));
        let bare = original(&HeaderMap::new(), &verify_target(), "http").unwrap();
        assert_eq!(
            bare.target.host, "auth-gw.internal",
            "defaults: the verify request's host"
        );
        assert_eq!(bare.target.path, "/");
        assert!(
            original(
                &headers(&[("x-original-url", "ftp://x/")]),
                &verify_target(),
                "http"
            )
            .is_err()
        );
    }

    #[test]
    fn the_client_is_the_last_forwarded_address() {
        let h = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9")]);
        assert_eq!(forwarded_client(&h), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_client(&HeaderMap::new()), None);
    }
}
