//! No secret in the logs: a full browser login (real Chromium, real OpenID provider, real
//! PostgreSQL, portcullis all-in-one over TLS at `log_level: debug`), then every line
//! portcullis printed — stdout and stderr — is searched for the session cookies, the IdP's
//! tokens (read back from the session record), the authorization code's query, the
//! configured secrets and the signing key.

use std::time::Duration;

use base64::Engine as _;
use portcullis_databroker::{Query, Storage as _};
use portcullis_grpc::SharedSecret;
use portcullis_proto::Session;
use portcullis_testing::browser::{self, Step};
use portcullis_testing::oidc::{Client, OidcProvider, Settings};
use portcullis_testing::process::Portcullis;
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::{postgres, tls};

const SHARED_SECRET: &str = "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=";
const COOKIE_SECRET: &str = "q3q2o4RZ0V4pRcGJUe2mVqO5zN7XJ2lKc8vY6d1sH0U=";
const IDP_CLIENT_SECRET: &str = "idp-client-secret-never-logged";
const METRICS_PAIR: &str = "prom:metrics-password-never-logged";
const AUTHENTICATE: &str = "https://authenticate.localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_journey_logs_no_secret() {
    let idp = OidcProvider::start_with(
        &[Client {
            id: "portcullis".into(),
            secret: IDP_CLIENT_SECRET.into(),
            redirect_uris: vec![format!("{AUTHENTICATE}/oauth2/callback")],
            post_logout_redirect_uris: vec![format!("{AUTHENTICATE}/.portcullis/signed_out")],
        }],
        &[("alice", &["staff"])],
        &Settings {
            access_token_ttl: Some(Duration::from_secs(60)),
        },
    )
    .expect("the OpenID provider starts");
    let upstream = EchoUpstream::start("app").await.unwrap();
    let db = postgres::database().expect("postgres");
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = tls::TestCa::new("portcullis test CA")
        .leaf(&["authenticate.localhost", "app.localhost", "admin.localhost"])
        .write_pem(certs.path(), "localhost")
        .unwrap();
    let signing_pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = format!(
        r#"
log_level: debug
address: 127.0.0.1:0
grpc_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
metrics_basic_auth: {metrics}
shared_secret: {SHARED_SECRET}
cookie_secret: {COOKIE_SECRET}
signing_key: {signing}
authenticate_service_url: {AUTHENTICATE}
certificate_file: {cert}
certificate_key_file: {key}
idp_provider: oidc
idp_provider_url: {issuer}
idp_client_id: portcullis
idp_client_secret: {IDP_CLIENT_SECRET}
idp_scopes: [openid, profile, email, groups, offline_access]
databroker_storage_type: postgres
databroker_storage_connection_string: {db}
routes:
  - from: https://app.localhost
    to: {upstream}
    pass_identity_headers: true
    policy:
      allow:
        and:
          - email:
              is: alice@example.com
  - from: https://admin.localhost
    to: {upstream}
    allowed_users: [nobody@example.com]
"#,
        metrics = b64(METRICS_PAIR),
        signing = b64(&signing_pem),
        cert = cert.display(),
        key = key.display(),
        issuer = idp.issuer(),
        db = db.connection_string(),
        upstream = upstream.url(),
    );
    let portcullis = Portcullis::start(&config).expect("portcullis starts");
    let rules = format!(
        "MAP *.localhost 127.0.0.1:{}",
        portcullis.address("proxy").port()
    );
    let start = "https://app.localhost/hello?x=1";
    let mut steps = browser::login_steps(start);
    steps.extend([
        Step::Snapshot("app".into()),
        Step::Goto("https://admin.localhost/".into()),
        Step::Snapshot("admin".into()),
        Step::Goto("https://app.localhost/.portcullis/".into()),
        Step::Snapshot("user_page".into()),
    ]);
    let journey = tokio::task::block_in_place(|| browser::run(&steps, &rules))
        .expect("the browser journey completes");
    let app = journey.snapshot("app").unwrap();
    assert_eq!(app.status, Some(200), "{}", app.text);
    assert_eq!(journey.snapshot("admin").unwrap().status, Some(403));

    // What must never appear.
    let mut secrets: Vec<(String, String)> = vec![
        ("shared_secret".into(), SHARED_SECRET.into()),
        ("cookie_secret".into(), COOKIE_SECRET.into()),
        ("idp_client_secret".into(), IDP_CLIENT_SECRET.into()),
        ("metrics_basic_auth".into(), b64(METRICS_PAIR)),
        (
            "metrics password".into(),
            "metrics-password-never-logged".into(),
        ),
        ("signing_key (base64)".into(), b64(&signing_pem)),
    ];
    for (i, line) in signing_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .enumerate()
    {
        secrets.push((format!("signing key PEM line {i}"), line.to_owned()));
    }
    let snapshot = journey.snapshot("user_page").unwrap();
    for cookie in &snapshot.cookies {
        let (name, value) = (
            cookie["name"].as_str().unwrap(),
            cookie["value"].as_str().unwrap(),
        );
        if name.starts_with("_portcullis") && value.len() >= 16 {
            let domain = cookie["domain"].as_str().unwrap_or_default();
            secrets.push((format!("cookie {name} of {domain}"), value.to_owned()));
        }
    }
    assert!(
        secrets.iter().any(|(n, _)| n.contains("app.localhost")),
        "the session cookie was found: {:?}",
        snapshot.cookies
    );
    let sessions = sessions(&portcullis).await;
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    let token = session.oauth_token.as_ref().expect("IdP tokens are kept");
    secrets.push((
        "access token".into(),
        token.access_token.expose().to_owned(),
    ));
    secrets.push((
        "refresh token".into(),
        token.refresh_token.expose().to_owned(),
    ));
    secrets.push(("id token".into(), session.id_token.expose().to_owned()));
    for (name, value) in &secrets {
        assert!(value.len() >= 16, "{name} is long enough to grep for");
    }

    let lines = portcullis.lines();
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"DEBUG\"")),
        "debug logging is on"
    );
    assert!(lines.iter().any(|l| l.contains("\"decision\"")));
    for line in &lines {
        for (name, value) in &secrets {
            assert!(!line.contains(value.as_str()), "{name} logged: {line}");
        }
        // The callback's query carries the authorization code and state; the route-host
        // callback carries the sealed handoff. None of it is logged.
        for query in ["code=", "state=", "handoff="] {
            assert!(!line.contains(query), "{query} logged: {line}");
        }
    }
}

async fn sessions(portcullis: &Portcullis) -> Vec<Session> {
    let secret: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(SHARED_SECRET)
        .unwrap()
        .try_into()
        .unwrap();
    let url = format!("http://{}", portcullis.address("databroker"));
    let client = portcullis_databroker::connect(&url, &SharedSecret::from(secret)).unwrap();
    let page = client
        .query(Query {
            kind: Session::TYPE.into(),
            filters: Vec::new(),
            offset: 0,
            limit: None,
        })
        .await
        .unwrap();
    page.records
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| Session::decode(&r.data.type_url, &r.data.value).unwrap())
        .collect()
}
