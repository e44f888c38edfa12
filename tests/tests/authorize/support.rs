//! Shared setup for the authorize tests: configurations, session and user records written
//! through the databroker, session handles, and Envoy `CheckRequest`s built the way Envoy
//! builds them (with `envoy-types`, independently of portcullis' own conversions).

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use portcullis_databroker::Storage;
use portcullis_grpc::{SessionHandle, SessionHandleCodec, SharedSecret};
use portcullis_proto::{Session, User};
use serde_json::{Map, Value, json};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

pub const SHARED_SECRET: [u8; 32] = [42; 32];
pub const SHARED_SECRET_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
pub const COOKIE_SECRET: [u8; 32] = [7; 32];
pub const COOKIE_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const AUTHENTICATE_URL: &str = "https://auth.example.com";

pub fn secret() -> SharedSecret {
    SharedSecret::from(SHARED_SECRET)
}

/// An authorize configuration: `app` (example.com users, identity headers passed), `admin`
/// (group `admins` only) and `public` (anyone) routes. `extra` is appended at the top level.
pub fn config_yaml(services: &str, databroker_url: Option<&str>, extra: &str) -> String {
    let databroker = databroker_url
        .map(|u| format!("databroker_service_url: {u}\n"))
        .unwrap_or_default();
    format!(
        "services: {services}\n\
         grpc_address: 127.0.0.1:0\n\
         grpc_insecure: true\n\
         shared_secret: {SHARED_SECRET_B64}\n\
         cookie_secret: {COOKIE_SECRET_B64}\n\
         authenticate_service_url: {AUTHENTICATE_URL}\n\
         {databroker}\
         jwt_claims_headers:\n  X-Email: email\n  X-Team: team\n\
         {extra}\
         routes:\n\
         \x20 - id: app\n\
         \x20   from: https://app.example.com\n\
         \x20   to: http://127.0.0.1:9\n\
         \x20   pass_identity_headers: true\n\
         \x20   policy:\n\
         \x20     - allow:\n\
         \x20         or:\n\
         \x20           - domain: {{is: example.com}}\n\
         \x20 - id: admin\n\
         \x20   from: https://admin.example.com\n\
         \x20   to: http://127.0.0.1:9\n\
         \x20   policy:\n\
         \x20     - allow:\n\
         \x20         and:\n\
         \x20           - groups: {{has: admins}}\n\
         \x20 - id: public\n\
         \x20   from: https://public.example.com\n\
         \x20   to: http://127.0.0.1:9\n\
         \x20   allow_public_unauthenticated_access: true\n"
    )
}

/// The validated configuration of [`config_yaml`].
pub fn config(databroker_url: Option<&str>, extra: &str) -> portcullis_config::Config {
    let yaml = config_yaml("authorize", databroker_url, extra);
    portcullis_config::Config::from_sources(&yaml, "authorize-test.yaml", &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A user and their session, as authenticate will write them.
pub struct Login {
    pub session_id: String,
    pub user_id: String,
    pub email: String,
    pub groups: Vec<String>,
    pub expires_in: Duration,
}

impl Login {
    pub fn new(n: &str, email: &str) -> Login {
        Login {
            session_id: format!("session-{n}"),
            user_id: format!("user-{n}"),
            email: email.to_owned(),
            groups: vec!["staff".to_owned()],
            expires_in: Duration::from_secs(3600),
        }
    }

    /// Writes the user and session records; returns the handle a cookie would carry.
    pub async fn write(&self, databroker: &dyn Storage) -> SessionHandle {
        let now = SystemTime::now();
        let claims = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let session = Session {
            id: self.session_id.clone(),
            user_id: self.user_id.clone(),
            issued_at: now,
            expires_at: now + self.expires_in,
            refreshed_at: None,
            claims: claims(json!({"email": self.email, "team": "core"})),
            oauth_token: None,
            id_token: portcullis_proto::SecretString::new("id-token-never-logged"),
        };
        let user = User {
            id: self.user_id.clone(),
            email: self.email.clone(),
            name: format!("Name of {}", self.user_id),
            groups: self.groups.clone(),
            claims: Map::new(),
        };
        portcullis_testing::login::write_login(databroker, &session, &user).await
    }
}

/// The sealed token for `handle` (what the cookie holds).
pub fn token(handle: &SessionHandle) -> String {
    SessionHandleCodec::new(&COOKIE_SECRET).seal(handle)
}

/// The `cookie` header value carrying `handle` as the session cookie.
pub fn session_cookie(handle: &SessionHandle) -> String {
    format!("_portcullis={}", token(handle))
}

/// A handle for a session the databroker wrote well after `version`: one that a replica which
/// stopped syncing at `version` has never seen.
pub fn later_session(version: u64) -> SessionHandle {
    SessionHandle {
        session_id: "session-later".into(),
        user_id: "user-later".into(),
        issued_at: std::time::SystemTime::now(),
        version: version + 1_000,
    }
}

/// A Check for `GET /` on the route `app` (`app.example.com`).
pub fn check_app(headers: &[(&str, &str)]) -> CheckRequest {
    check(Some("app"), "app.example.com", "/", headers)
}

/// A `CheckRequest` as Envoy sends it: path with query, lower-case headers merged into a
/// map, the client's address, and the route id in `context_extensions`.
pub fn check(
    route: Option<&str>,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    address: Some(AddressKind::SocketAddress(SocketAddress {
                        address: "203.0.113.9".into(),
                        ..SocketAddress::default()
                    })),
                }),
                ..Peer::default()
            }),
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    id: "req-1234".into(),
                    method: "GET".into(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect::<HashMap<_, _>>(),
                    path: path.into(),
                    host: host.into(),
                    scheme: "https".into(),
                    protocol: "HTTP/1.1".into(),
                    size: -1,
                    ..HttpRequest::default()
                }),
            }),
            context_extensions: route
                .map(|r| HashMap::from([("route_id".to_owned(), r.to_owned())]))
                .unwrap_or_default(),
            ..AttributeContext::default()
        }),
    }
}

/// An Envoy ext_authz client of the authorize at `addr` that sends the static ext_authz key,
/// as a stock Envoy configured with `initial_metadata` would.
pub fn envoy_client(addr: std::net::SocketAddr) -> EnvoyClient {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    EnvoyClient {
        grpc: AuthorizationClient::new(channel),
        key: Some(portcullis_authorize::ext_authz_key(&SHARED_SECRET)),
    }
}

pub struct EnvoyClient {
    pub grpc: AuthorizationClient<Channel>,
    pub key: Option<String>,
}

impl EnvoyClient {
    pub async fn check(&self, request: CheckRequest) -> Result<CheckResponse, tonic::Status> {
        let mut call = tonic::Request::new(request);
        if let Some(key) = &self.key {
            let value: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
            call.metadata_mut().insert("authorization", value);
        }
        Ok(self.grpc.clone().check(call).await?.into_inner())
    }
}

/// The `OkHttpResponse` of an allowed check; panics with the response otherwise.
pub fn ok(response: &CheckResponse) -> &OkHttpResponse {
    assert_eq!(
        response.status.as_ref().map(|s| s.code),
        Some(0),
        "{response:?}"
    );
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok,
        other => panic!("expected an OkHttpResponse, got {other:?}"),
    }
}

/// The `DeniedHttpResponse` of a denied check and its gRPC status code.
pub fn denied(response: &CheckResponse) -> (i32, u16, &DeniedHttpResponse) {
    let code = response.status.as_ref().map_or(0, |s| s.code);
    match &response.http_response {
        Some(HttpResponse::DeniedResponse(d)) => {
            let status = d.status.as_ref().map_or(0, |s| s.code);
            (code, u16::try_from(status).unwrap(), d)
        }
        other => panic!("expected a DeniedHttpResponse, got {other:?}"),
    }
}

/// The value the response sets for `name`.
pub fn header<'a>(
    headers: &'a [envoy_types::pb::envoy::config::core::v3::HeaderValueOption],
    name: &str,
) -> Option<&'a str> {
    headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .find(|h| h.key == name)
        .map(|h| h.value.as_str())
}
