//! Attack suite: gRPC between roles (SECURITY.md, "What is tested"). A tonic client calls the
//! real process's databroker (`ServerInfo`, `Put`) and authorize (`Check`) services with
//! every bad credential: missing, malformed, `alg: none`, another cluster's secret, expired,
//! too long-lived, another algorithm, the identity JWT or the JWKS public key standing in for
//! the shared secret, and a wrong `aud`. Each is `UNAUTHENTICATED`, and nothing is written.

#[path = "attack/support.rs"]
mod support;

use portcullis_proto::databroker::v1::data_broker_service_client::DataBrokerServiceClient;
use portcullis_proto::databroker::v1::{PutRequest, ServerInfoRequest};
use portcullis_proto::envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use portcullis_proto::envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use serde_json::json;
use support::{Cluster, PUBLIC, jwt, now};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// Bad `authorization` metadata values (`None`: none sent), each with its name.
fn bad_credentials(identity_jwt: &str, jwks_key: &str) -> Vec<(&'static str, Option<String>)> {
    let secret = &support::SHARED_SECRET[..];
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let fresh = json!({"iat": now(), "exp": now() + 30});
    let bearer = |token: String| Some(format!("Bearer {token}"));
    vec![
        ("missing", None),
        ("empty", Some(String::new())),
        (
            "not a bearer",
            Some(format!("Basic {}", support::b64(b"a:b"))),
        ),
        ("garbage bearer", bearer("a.b.c".into())),
        (
            "alg none",
            bearer(jwt(&json!({"alg": "none", "typ": "JWT"}), &fresh, None)),
        ),
        (
            "alg none with a signature",
            bearer(jwt(&json!({"alg": "none"}), &fresh, Some(secret))),
        ),
        (
            "another cluster's secret",
            bearer(jwt(&hs256, &fresh, Some(&[0x33; 32]))),
        ),
        (
            "expired",
            bearer(jwt(
                &hs256,
                &json!({"iat": now() - 600, "exp": now() - 300}),
                Some(secret),
            )),
        ),
        (
            "no expiry",
            bearer(jwt(&hs256, &json!({"iat": now()}), Some(secret))),
        ),
        (
            "a day long",
            bearer(jwt(
                &hs256,
                &json!({"iat": now(), "exp": now() + 86_400}),
                Some(secret),
            )),
        ),
        (
            "HS512 header on an HS256 signature",
            bearer(jwt(&json!({"alg": "HS512"}), &fresh, Some(secret))),
        ),
        (
            "wrong kid, foreign key",
            bearer(jwt(
                &json!({"alg": "HS256", "kid": "portcullis"}),
                &fresh,
                Some(&[0x44; 32]),
            )),
        ),
        (
            "wrong aud",
            bearer(jwt(
                &hs256,
                &json!({"iat": now(), "exp": now() + 30, "aud": "some-other-service"}),
                Some(secret),
            )),
        ),
        ("the identity JWT", bearer(identity_jwt.to_owned())),
        (
            "HS256 keyed with the JWKS public key",
            bearer(jwt(&hs256, &fresh, Some(jwks_key.as_bytes()))),
        ),
        (
            "the static ext_authz key of another secret",
            bearer(portcullis_authorize::ext_authz_key(&[0x33; 32])),
        ),
    ]
}

fn call<T>(message: T, credential: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = credential {
        let value: MetadataValue<_> = value.parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_service_token_is_unauthenticated_on_databroker_and_authorize() {
    let cluster = Cluster::start().await;
    // Material an attacker may hold: an identity JWT (any upstream sees one) and the JWKS.
    let ann = cluster.login("ann", "ann@example.com").await;
    let reply = cluster
        .get(support::APP, "/", &[("cookie", &ann.cookie())])
        .await;
    assert_eq!(reply.status, 200);
    let identity_jwt = cluster
        .seen()
        .last()
        .and_then(|r| r.header("x-portcullis-jwt-assertion").map(str::to_owned))
        .expect("the upstream got an identity JWT");
    let jwks = cluster
        .get(PUBLIC, "/.well-known/portcullis/jwks.json", &[])
        .await;
    assert_eq!(jwks.status, 200);
    let body = jwks.text();
    let jwks_key = body.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    assert!(jwks_key.contains("\"kty\""), "{jwks_key}");

    let channel = Channel::from_shared(format!("http://{}", cluster.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut databroker = DataBrokerServiceClient::new(channel.clone());
    let authorize_channel = Channel::from_shared(format!(
        "http://{}",
        cluster.portcullis.address("authorize")
    ))
    .unwrap()
    .connect()
    .await
    .unwrap();
    let mut authorize = AuthorizationClient::new(authorize_channel);

    // The control: a genuine service token works on both.
    let good = portcullis_grpc::ClientAuth::new(&portcullis_grpc::SharedSecret::from(
        support::SHARED_SECRET,
    ))
    .header()
    .unwrap();
    let good = good.to_str().unwrap();
    databroker
        .server_info(call(ServerInfoRequest::default(), Some(good)))
        .await
        .expect("a genuine token is accepted");
    authorize
        .check(call(CheckRequest::default(), Some(good)))
        .await
        .expect("a genuine token is accepted");

    for (case, credential) in bad_credentials(&identity_jwt, &jwks_key) {
        let credential = credential.as_deref();
        let status = databroker
            .server_info(call(ServerInfoRequest::default(), credential))
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "databroker, {case}");
        let status = databroker
            .put(call(PutRequest::default(), credential))
            .await
            .expect_err(case);
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "databroker put, {case}"
        );
        let status = authorize
            .check(call(CheckRequest::default(), credential))
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "authorize, {case}");
        // The message names no secret and no reason beyond the class of failure.
        assert!(status.message().len() < 40, "{case}: {}", status.message());
    }
}
