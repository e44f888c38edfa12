//! Envoy ext_authz v3 (`envoy.service.auth.v3.Authorization/Check`) ↔ the authorize domain.
//!
//! Used by both ends: the Check server turns a [`CheckRequest`] into an [`AuthorizeRequest`]
//! and an [`AuthorizeDecision`] into a [`CheckResponse`]; the Check client does the reverse.
//!
//! Envoy's conventions, followed here:
//! - `attributes.request.http.path` carries path *and* query; `query` is always empty.
//! - header names are lower-case; with `encode_raw_headers` they arrive in `header_map`.
//! - the peer certificate is URL-encoded PEM (`include_peer_certificate: true`).
//! - `context_extensions["route_id"]` (per-route `check_settings`) names the route.
//! - allowed: `OkHttpResponse.headers` *overwrite* client values (`OVERWRITE_IF_EXISTS_OR_ADD`),
//!   `headers_to_remove` strip credentials; denied: `DeniedHttpResponse` — never
//!   `ErrorResponse`, which Envoy's `failure_mode_allow` would turn into an allow.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{
    Address, HeaderValue, HeaderValueOption, SocketAddress,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use envoy_types::pb::google::rpc::Status;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::authorize::{Allow, AuthorizeDecision, AuthorizeRequest, Deny, ROUTE_ID_KEY};

/// `dynamic_metadata` key carrying a denial's reasons (comma-separated).
const REASONS_KEY: &str = "reasons";
/// `dynamic_metadata` key carrying an allowed request's user id (for the access log).
const USER_KEY: &str = "user";

/// gRPC status codes used in `CheckResponse.status`.
mod code {
    pub(super) const OK: i32 = 0;
    pub(super) const NOT_FOUND: i32 = 5;
    pub(super) const PERMISSION_DENIED: i32 = 7;
    pub(super) const INTERNAL: i32 = 13;
    pub(super) const UNAVAILABLE: i32 = 14;
    pub(super) const UNAUTHENTICATED: i32 = 16;
}

/// The Envoy request for `request` (what the Check client sends).
pub fn check_request(request: &AuthorizeRequest) -> CheckRequest {
    let mut path = request.path.clone();
    if !request.query.is_empty() {
        path.push('?');
        path.push_str(&request.query);
    }
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in &request.headers {
        headers
            .entry(name.clone())
            .and_modify(|v| {
                // Envoy merges repeated headers; cookies merge with "; ".
                v.push_str(if name == "cookie" { "; " } else { "," });
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let source = Peer {
        address: request.client_address.map(|ip| Address {
            address: Some(AddressKind::SocketAddress(SocketAddress {
                address: ip.to_string(),
                port_specifier: Some(PortSpecifier::PortValue(0)),
                ..SocketAddress::default()
            })),
        }),
        certificate: request
            .client_certificate
            .as_deref()
            .map(|der| utf8_percent_encode(&pem(der), NON_ALPHANUMERIC).to_string())
            .unwrap_or_default(),
        ..Peer::default()
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(source),
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    id: request.request_id.clone(),
                    method: request.method.clone(),
                    headers,
                    path,
                    host: request.host.clone(),
                    scheme: request.scheme.clone(),
                    size: -1,
                    ..HttpRequest::default()
                }),
            }),
            context_extensions: request
                .route_id
                .iter()
                .map(|id| (ROUTE_ID_KEY.to_owned(), id.clone()))
                .collect(),
            ..AttributeContext::default()
        }),
    }
}

/// The domain request of an Envoy `CheckRequest` (what the Check server receives). Missing
/// parts become empty; the engine denies what it cannot decide.
pub fn authorize_request(check: CheckRequest) -> AuthorizeRequest {
    let attributes = check.attributes.unwrap_or_default();
    let http = attributes.request.and_then(|r| r.http).unwrap_or_default();
    let (path, query) = match http.path.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (http.path.clone(), http.query.clone()),
    };
    let mut headers: Vec<(String, String)> = http
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if headers.is_empty()
        && let Some(map) = http.header_map
    {
        headers = map.headers.into_iter().map(raw_header).collect();
    }
    // Pseudo-headers (`:authority`, `:path`, ...) are in `host`/`path` already.
    headers.retain(|(k, _)| !k.starts_with(':'));
    let request_id = if http.id.is_empty() {
        headers
            .iter()
            .find(|(k, _)| k == "x-request-id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    } else {
        http.id
    };
    let source = attributes.source.unwrap_or_default();
    AuthorizeRequest {
        route_id: attributes
            .context_extensions
            .get(ROUTE_ID_KEY)
            .filter(|id| !id.is_empty())
            .cloned(),
        request_id,
        method: http.method,
        scheme: http.scheme,
        host: http.host,
        path,
        query,
        headers,
        client_address: source.address.as_ref().and_then(peer_ip),
        client_certificate: certificate_der(&source.certificate),
    }
}

/// The Envoy response for `decision` (what the Check server answers).
pub fn check_response(decision: &AuthorizeDecision) -> CheckResponse {
    match decision {
        AuthorizeDecision::Allow(allow) => CheckResponse {
            status: Some(Status {
                code: code::OK,
                ..Status::default()
            }),
            dynamic_metadata: (!allow.user.is_empty()).then(|| Struct {
                fields: HashMap::from([(
                    USER_KEY.to_owned(),
                    Value {
                        kind: Some(Kind::StringValue(allow.user.clone())),
                    },
                )]),
            }),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                headers: allow.set_headers.iter().map(overwrite).collect(),
                headers_to_remove: allow.remove_headers.clone(),
                ..OkHttpResponse::default()
            })),
        },
        AuthorizeDecision::Deny(deny) => CheckResponse {
            status: Some(Status {
                code: grpc_code(deny.status),
                message: deny_message(deny.status).to_owned(),
                ..Status::default()
            }),
            dynamic_metadata: (!deny.reasons.is_empty()).then(|| Struct {
                fields: HashMap::from([(
                    REASONS_KEY.to_owned(),
                    Value {
                        kind: Some(Kind::StringValue(deny.reasons.join(","))),
                    },
                )]),
            }),
            http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
                status: Some(HttpStatus {
                    code: i32::from(deny.status),
                }),
                headers: deny.headers.iter().map(overwrite).collect(),
                body: deny.body.clone(),
            })),
        },
    }
}

/// The domain decision of an Envoy `CheckResponse` (what the Check client receives). Anything
/// but an `OK` status is a denial, `403` unless the response says otherwise, as in Envoy.
pub fn authorize_decision(response: CheckResponse) -> AuthorizeDecision {
    let ok = response.status.as_ref().is_none_or(|s| s.code == code::OK);
    let metadata = |key: &str| {
        response
            .dynamic_metadata
            .as_ref()
            .and_then(|m| m.fields.get(key))
            .and_then(|v| match &v.kind {
                Some(Kind::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
    };
    let reasons = metadata(REASONS_KEY)
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let user = metadata(USER_KEY).unwrap_or_default();
    match response.http_response {
        Some(HttpResponse::OkResponse(ok_response)) if ok => AuthorizeDecision::Allow(Allow {
            set_headers: ok_response.headers.into_iter().filter_map(pair).collect(),
            remove_headers: ok_response.headers_to_remove,
            user,
        }),
        None if ok => AuthorizeDecision::Allow(Allow::default()),
        Some(HttpResponse::DeniedResponse(d) | HttpResponse::ErrorResponse(d)) => {
            AuthorizeDecision::Deny(Deny {
                status: d
                    .status
                    .and_then(|s| u16::try_from(s.code).ok())
                    .filter(|s| *s >= 300)
                    .unwrap_or(403),
                headers: d.headers.into_iter().filter_map(pair).collect(),
                body: d.body,
                reasons,
            })
        }
        _ => AuthorizeDecision::Deny(Deny {
            status: 403,
            headers: Vec::new(),
            body: String::new(),
            reasons,
        }),
    }
}

fn grpc_code(status: u16) -> i32 {
    match status {
        302 | 401 => code::UNAUTHENTICATED,
        404 => code::NOT_FOUND,
        500 => code::INTERNAL,
        503 => code::UNAVAILABLE,
        _ => code::PERMISSION_DENIED,
    }
}

fn deny_message(status: u16) -> &'static str {
    match status {
        302 | 401 => "unauthenticated",
        404 => "no route",
        500 => "internal error",
        503 => "unavailable",
        _ => "forbidden",
    }
}

fn overwrite((name, value): &(String, String)) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.clone(),
            value: value.clone(),
            raw_value: Vec::new(),
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

fn pair(option: HeaderValueOption) -> Option<(String, String)> {
    option.header.map(raw_header)
}

fn raw_header(h: HeaderValue) -> (String, String) {
    let value = if h.value.is_empty() && !h.raw_value.is_empty() {
        String::from_utf8_lossy(&h.raw_value).into_owned()
    } else {
        h.value
    };
    (h.key.to_ascii_lowercase(), value)
}

fn peer_ip(address: &Address) -> Option<IpAddr> {
    match address.address.as_ref()? {
        AddressKind::SocketAddress(s) => s.address.parse().ok(),
        _ => None,
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER of the first certificate in URL-encoded PEM; `None` when absent or unreadable.
fn certificate_der(url_encoded_pem: &str) -> Option<Vec<u8>> {
    if url_encoded_pem.is_empty() {
        return None;
    }
    let text = percent_decode_str(url_encoded_pem).decode_utf8().ok()?;
    let body = text.split("-----BEGIN CERTIFICATE-----").nth(1)?;
    let body = body.split("-----END CERTIFICATE-----").next()?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthorizeRequest {
        AuthorizeRequest {
            route_id: Some("r1".into()),
            request_id: "req-1".into(),
            method: "GET".into(),
            scheme: "https".into(),
            host: "app.example.com".into(),
            path: "/a/b".into(),
            query: "x=1&y=2".into(),
            headers: vec![
                ("accept".into(), "text/html".into()),
                ("cookie".into(), "a=1".into()),
                ("cookie".into(), "b=2".into()),
            ],
            client_address: Some("10.1.2.3".parse().unwrap()),
            client_certificate: Some(vec![0x30, 0x82, 0x01, 0x02, 0xff]),
        }
    }

    #[test]
    fn requests_survive_the_envoy_wire_format() {
        let back = authorize_request(check_request(&request()));
        let mut expected = request();
        expected.headers = vec![
            ("accept".into(), "text/html".into()),
            ("cookie".into(), "a=1; b=2".into()),
        ];
        let mut got = back;
        got.headers.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn raw_header_maps_and_pseudo_headers() {
        let mut check = check_request(&request());
        let http = check
            .attributes
            .as_mut()
            .and_then(|a| a.request.as_mut())
            .and_then(|r| r.http.as_mut())
            .unwrap();
        http.headers.clear();
        http.header_map = Some(envoy_types::pb::envoy::config::core::v3::HeaderMap {
            headers: vec![
                HeaderValue {
                    key: ":authority".into(),
                    raw_value: b"app.example.com".to_vec(),
                    ..HeaderValue::default()
                },
                HeaderValue {
                    key: "X-Request-Id".into(),
                    raw_value: b"r".to_vec(),
                    ..HeaderValue::default()
                },
            ],
        });
        let back = authorize_request(check);
        assert_eq!(back.headers, vec![("x-request-id".into(), "r".into())]);
    }

    #[test]
    fn decisions_survive_the_envoy_wire_format() {
        let allow = AuthorizeDecision::Allow(Allow {
            set_headers: vec![("x-portcullis-jwt-assertion".into(), "t".into())],
            remove_headers: vec!["x-portcullis-authorization".into()],
            user: "user-1".into(),
        });
        let response = check_response(&allow);
        assert_eq!(response.status.as_ref().unwrap().code, 0);
        assert_eq!(authorize_decision(response), allow);

        let deny = AuthorizeDecision::Deny(Deny {
            status: 302,
            headers: vec![("location".into(), "https://auth/".into())],
            body: String::new(),
            reasons: vec!["user-unauthenticated".into()],
        });
        let response = check_response(&deny);
        assert_eq!(response.status.as_ref().unwrap().code, 16);
        assert_eq!(authorize_decision(response), deny);
    }

    #[test]
    fn a_non_ok_status_without_a_response_is_a_403() {
        let response = CheckResponse {
            status: Some(Status {
                code: 7,
                ..Status::default()
            }),
            ..CheckResponse::default()
        };
        assert_eq!(authorize_decision(response).status(), 403);
    }
}
