//! The first login, end to end, with every part real: a third-party OpenID provider (node
//! `oidc-provider`), PostgreSQL, `portcullis` all-in-one over TLS, an upstream, and headless
//! Chromium driven through the IdP's login form and back.
//!
//! Chromium reaches `*.localhost` (port 443 in its URLs) through `--host-resolver-rules`, mapped
//! to the port the kernel gave portcullis; the IdP is plain `http://127.0.0.1:PORT`.

use std::time::{Duration, SystemTime};

use portcullis_databroker::{Query, Storage as _};
use portcullis_grpc::SharedSecret;
use portcullis_proto::Session;
use portcullis_testing::browser::{self, Step};
use portcullis_testing::jwt::forwarded_identity;
use portcullis_testing::oidc::{Client, OidcProvider, Settings};
use portcullis_testing::process::Portcullis;
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::{postgres, tls, wait};

const SHARED_SECRET: &str = "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=";
const COOKIE_SECRET: &str = "q3q2o4RZ0V4pRcGJUe2mVqO5zN7XJ2lKc8vY6d1sH0U=";
const AUTHENTICATE: &str = "https://authenticate.localhost";

struct Cluster {
    idp: OidcProvider,
    upstream: EchoUpstream,
    portcullis: Portcullis,
    _db: postgres::Database,
    _certs: tempfile::TempDir,
}

async fn cluster(access_token_ttl: Duration) -> Cluster {
    let idp = OidcProvider::start_with(
        &[Client {
            id: "portcullis".into(),
            secret: "idp-client-secret".into(),
            redirect_uris: vec![format!("{AUTHENTICATE}/oauth2/callback")],
            post_logout_redirect_uris: vec![format!("{AUTHENTICATE}/.portcullis/signed_out")],
        }],
        &[("alice", &["staff"])],
        &Settings {
            access_token_ttl: Some(access_token_ttl),
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
    let config = format!(
        r#"
address: 127.0.0.1:0
grpc_address: 127.0.0.1:0
shared_secret: {SHARED_SECRET}
cookie_secret: {COOKIE_SECRET}
authenticate_service_url: {AUTHENTICATE}
certificate_file: {cert}
certificate_key_file: {key}
idp_provider: oidc
idp_provider_url: {issuer}
idp_client_id: portcullis
idp_client_secret: idp-client-secret
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
    policy:
      allow:
        and:
          - groups:
              has: admins
"#,
        cert = cert.display(),
        key = key.display(),
        issuer = idp.issuer(),
        db = db.connection_string(),
        upstream = upstream.url(),
    );
    let portcullis = Portcullis::start(&config).expect("portcullis starts");
    Cluster {
        idp,
        upstream,
        portcullis,
        _db: db,
        _certs: certs,
    }
}

impl Cluster {
    fn resolver_rules(&self) -> String {
        format!(
            "MAP *.localhost 127.0.0.1:{}",
            self.portcullis.address("proxy").port()
        )
    }

    async fn sessions(&self) -> Vec<Session> {
        let url = format!("http://{}", self.portcullis.address("databroker"));
        let client = portcullis_databroker::connect(&url, &SharedSecret::from(secret())).unwrap();
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
}

fn secret() -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(SHARED_SECRET)
        .unwrap()
        .try_into()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_through_the_idp_reaches_the_upstream_and_signs_out() {
    let cluster = cluster(Duration::from_secs(10)).await;
    let start = "https://app.localhost/hello?x=1";
    let mut steps = browser::login_steps(start);
    steps.extend([
        Step::Snapshot("app".into()),
        Step::Goto("https://admin.localhost/".into()),
        Step::Snapshot("admin".into()),
        Step::Goto("https://app.localhost/.portcullis/".into()),
        Step::Snapshot("user_page".into()),
        Step::Goto("https://app.localhost/.well-known/portcullis/jwks.json".into()),
        Step::Snapshot("jwks".into()),
        Step::Goto("https://app.localhost/.portcullis/sign_out".into()),
        Step::Click("button[type=submit]".into()),
        Step::WaitUrl("/session/end".into()),
        Step::Click("button[type=submit]".into()),
        // Signed out at the IdP too, back at the route, which sends the browser to log in.
        Step::WaitUrl("/interaction/".into()),
        Step::Snapshot("signed_out".into()),
        Step::Goto(start.into()),
        Step::WaitUrl("/interaction/".into()),
        Step::Snapshot("again".into()),
    ]);
    let journey = tokio::task::block_in_place(|| browser::run(&steps, &cluster.resolver_rules()))
        .expect("the browser journey completes");

    // Back at the upstream, which got a valid identity JWT for alice.
    let app = journey.snapshot("app").unwrap();
    assert_eq!(app.url, start);
    assert_eq!(app.status, Some(200));
    assert!(app.text.contains("\"upstream\":\"app\""), "{}", app.text);
    let jwks = journey.snapshot("jwks").unwrap().text;
    let (forwarded, verified) = forwarded_identity(
        cluster.upstream.received(),
        "/hello?x=1",
        &jwks,
        "app.localhost",
    );
    assert_eq!(verified["claims"]["email"], "alice@example.com");
    assert_eq!(verified["claims"]["groups"], serde_json::json!(["staff"]));
    assert!(
        forwarded
            .header("cookie")
            .is_none_or(|c| !c.contains("_portcullis"))
    );

    // The route-host cookie: a small handle with secure attributes, living cookie_expire.
    let cookie = app
        .cookie("_portcullis", "app.localhost")
        .expect("a session cookie for app.localhost");
    assert_eq!(cookie["secure"], true);
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Lax");
    assert_eq!(cookie["path"], "/");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let expires = cookie["expires"].as_f64().unwrap();
    assert!(
        (now + 13.5 * 3600.0..now + 14.5 * 3600.0).contains(&expires),
        "expires in 14h: {expires} vs now {now}"
    );
    assert!(cookie["value"].as_str().unwrap().len() < 200);

    // Signed in, but not allowed on admin: 403 without another IdP round trip.
    let admin = journey.snapshot("admin").unwrap();
    assert_eq!(admin.status, Some(403), "{}", admin.text);
    assert!(
        admin.url.starts_with("https://admin.localhost/"),
        "{}",
        admin.url
    );

    let user_page = journey.snapshot("user_page").unwrap();
    assert!(
        user_page.text.contains("alice@example.com"),
        "{}",
        user_page.text
    );
    assert!(user_page.text.contains("staff"), "{}", user_page.text);

    // Signed out: cookies gone, session record gone, and the route asks for login again.
    let signed_out = journey.snapshot("signed_out").unwrap();
    assert!(
        signed_out.url.starts_with(cluster.idp.issuer()),
        "{}",
        signed_out.url
    );
    assert!(signed_out.cookie("_portcullis", "app.localhost").is_none());
    assert!(
        signed_out
            .cookie("_portcullis", "authenticate.localhost")
            .is_none()
    );
    assert!(
        cluster.sessions().await.is_empty(),
        "the session record is deleted"
    );
    let again = journey.snapshot("again").unwrap();
    assert!(again.url.starts_with(cluster.idp.issuer()), "{}", again.url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_manager_refreshes_a_short_lived_access_token() {
    let cluster = cluster(Duration::from_secs(5)).await;
    let start = "https://app.localhost/";
    let mut steps = browser::login_steps(start);
    steps.push(Step::Snapshot("app".into()));
    tokio::task::block_in_place(|| browser::run(&steps, &cluster.resolver_rules()))
        .expect("the browser journey completes");
    let sessions = cluster.sessions().await;
    assert_eq!(sessions.len(), 1);
    let first = sessions[0]
        .oauth_token
        .clone()
        .expect("IdP tokens are kept");
    let refreshed = wait::until_async(
        Duration::from_secs(30),
        "the access token to be refreshed",
        || async {
            let sessions = cluster.sessions().await;
            let token = sessions.first()?.oauth_token.clone()?;
            (token.access_token != first.access_token && sessions[0].refreshed_at.is_some())
                .then_some(sessions[0].clone())
        },
    )
    .await
    .unwrap();
    assert!(refreshed.oauth_token.unwrap().expires_at > first.expires_at);
}
