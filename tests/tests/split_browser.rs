//! The browser login journey in a split cluster (issue #12, "Done when"): headless Chromium
//! opens a route on the split proxy, signs in at a real OpenID provider through the separate
//! authenticate process, and lands on the upstream with an identity JWT that an independent
//! implementation (pyjwt) verifies against the proxy's JWKS. Sessions go through the
//! databroker replicas (DNS-balanced, PostgreSQL) and decisions through the authorize
//! replicas.
//!
//! Chromium reaches both public hosts, `app.localhost` and `authenticate.localhost`, at the
//! proxy (`--host-resolver-rules`): the proxy forwards the authenticate host to the
//! authenticate process (`authenticate_internal_service_url`, by DNS), so the browser never
//! talks to anything but the proxy.

#[path = "split/support.rs"]
mod support;

use portcullis_databroker::{Query, Storage as _};
use portcullis_proto::Session;
use portcullis_testing::browser::{self, Step};
use portcullis_testing::cluster::{Cluster, Spec};
use portcullis_testing::jwt::forwarded_identity;
use portcullis_testing::oidc::{Client, OidcProvider};
use portcullis_testing::tls;
use portcullis_testing::upstream::EchoUpstream;

const AUTHENTICATE: &str = "https://authenticate.localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_through_the_split_cluster() {
    let idp = OidcProvider::start(
        &[Client {
            id: "portcullis".into(),
            secret: "idp-client-secret".into(),
            redirect_uris: vec![format!("{AUTHENTICATE}/oauth2/callback")],
            post_logout_redirect_uris: vec![format!("{AUTHENTICATE}/.portcullis/signed_out")],
        }],
        &[("alice", &["staff"])],
    )
    .expect("the OpenID provider starts");
    let upstream = EchoUpstream::start("app").await.unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = tls::TestCa::new("portcullis test CA")
        .leaf(&["authenticate.localhost", "app.localhost"])
        .write_pem(certs.path(), "localhost")
        .unwrap();
    let cluster = support::start(Spec {
        routes: format!(
            "  - from: https://app.localhost\n\
             \x20   to: {upstream}\n\
             \x20   pass_identity_headers: true\n\
             \x20   policy:\n\
             \x20     - allow:\n\
             \x20         and:\n\
             \x20           - email: {{is: alice@example.com}}\n",
            upstream = upstream.url()
        ),
        common: format!(
            "authenticate_service_url: {AUTHENTICATE}\n\
             idp_provider: oidc\n\
             idp_provider_url: {issuer}\n\
             idp_client_id: portcullis\n\
             idp_client_secret: idp-client-secret\n\
             idp_scopes: [openid, profile, email, groups, offline_access]\n",
            issuer = idp.issuer(),
        ),
        certificate: Some((cert, key)),
        ..Spec::default()
    })
    .await;

    let start = "https://app.localhost/hello?x=1";
    let mut steps = browser::login_steps(start);
    steps.extend([
        Step::Snapshot("app".into()),
        Step::Goto("https://app.localhost/.well-known/portcullis/jwks.json".into()),
        Step::Snapshot("jwks".into()),
    ]);
    let rules = resolver_rules(&cluster);
    let journey = tokio::task::block_in_place(|| browser::run(&steps, &rules))
        .expect("the browser journey completes");

    let app = journey.snapshot("app").unwrap();
    assert_eq!(app.url, start);
    assert_eq!(app.status, Some(200));
    assert!(app.text.contains("\"upstream\":\"app\""), "{}", app.text);
    assert!(app.cookie("_portcullis", "app.localhost").is_some());
    let jwks = journey.snapshot("jwks").unwrap().text;
    let (_, verified) =
        forwarded_identity(upstream.received(), "/hello?x=1", &jwks, "app.localhost");
    assert_eq!(verified["claims"]["email"], "alice@example.com");
    assert_eq!(verified["claims"]["groups"], serde_json::json!(["staff"]));

    // The login went through the split roles: authenticate wrote the session through the
    // databroker replicas, and an authorize replica decided the request for alice.
    let databroker = cluster.databroker_client().unwrap();
    let sessions = databroker
        .query(Query {
            kind: Session::TYPE.into(),
            filters: Vec::new(),
            offset: 0,
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(sessions.records.len(), 1, "one session for alice");
    // The browser reached the authenticate host only through the proxy, which forwarded it.
    let callback = cluster.proxy.json_lines().into_iter().any(|l| {
        l["message"] == "access"
            && l["host"] == "authenticate.localhost"
            && l["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/oauth2/callback"))
    });
    assert!(callback, "the IdP callback went through the proxy");
    let allowed = (0..cluster.authorize.len()).any(|n| {
        cluster.authorize[n].json_lines().iter().any(|l| {
            l["message"] == "decision"
                && l["email"] == "alice@example.com"
                && l["decision"] == "allow"
        })
    });
    assert!(allowed, "an authorize replica allowed alice");
}

/// Chromium's host mapping: every `*.localhost` name (the route and the authenticate host)
/// to the proxy, which forwards the authenticate host to the authenticate process.
fn resolver_rules(cluster: &Cluster) -> String {
    format!(
        "MAP *.localhost 127.0.0.1:{}",
        cluster.proxy_address().port()
    )
}
