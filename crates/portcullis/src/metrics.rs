//! The `metrics_address` listener: `GET /metrics` in the OpenMetrics text format (which
//! Prometheus scrapes natively), behind HTTP basic auth when `metrics_basic_auth` is set.
//! Every other path is `404`. Plain HTTP: put it on a private address.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portcullis_config::Config;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::roles::{bind, router_service, stopped};

/// Binds `metrics_address` (when set) and serves `/metrics` until `stop`.
pub(crate) async fn start(
    config: &Config,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
) -> anyhow::Result<()> {
    let Some(address) = config.metrics_address else {
        return Ok(());
    };
    let listener = bind("metrics", address).await?;
    let credentials = config
        .metrics_basic_auth
        .as_ref()
        .map(|c| c.expose().clone());
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| {
            let allowed = credentials
                .as_deref()
                .is_none_or(|expected| authorized(&headers, expected));
            async move { scrape(allowed) }
        }),
    );
    let shutdown = stopped(stop.clone());
    tasks.spawn(async move {
        let result =
            portcullis_proxy::serve_service(listener, None, router_service(router), shutdown).await;
        ("metrics", result.map_err(anyhow::Error::from))
    });
    Ok(())
}

fn scrape(allowed: bool) -> Response {
    if !allowed {
        let mut response = (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"metrics\""),
        );
        return response;
    }
    let mut response = portcullis_telemetry::render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(portcullis_telemetry::CONTENT_TYPE),
    );
    response
}

/// True when `Authorization: Basic …` carries exactly `expected` (`user:pass`), compared in
/// constant time (both sides hashed first, so the length does not leak either).
fn authorized(headers: &HeaderMap, expected: &[u8]) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
    else {
        return false;
    };
    let digest = |b: &[u8]| ring::digest::digest(&ring::digest::SHA256, b);
    let (a, b) = (digest(&given), digest(expected));
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_takes_only_the_configured_pair() {
        let mut headers = HeaderMap::new();
        assert!(!authorized(&headers, b"user:pass"), "no header");
        let basic = |pair: &str| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
            HeaderValue::from_str(&format!("Basic {b64}")).unwrap()
        };
        headers.insert(header::AUTHORIZATION, basic("user:pass"));
        assert!(authorized(&headers, b"user:pass"));
        headers.insert(header::AUTHORIZATION, basic("user:pas"));
        assert!(!authorized(&headers, b"user:pass"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert!(!authorized(&headers, b"user:pass"));
        assert_eq!(scrape(false).status(), StatusCode::UNAUTHORIZED);
        assert!(
            scrape(false)
                .headers()
                .contains_key(header::WWW_AUTHENTICATE)
        );
    }
}
