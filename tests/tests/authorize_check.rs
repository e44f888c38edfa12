//! `envoy.service.auth.v3.Authorization/Check` driven through a real tonic client with
//! Envoy's message types, against an authorize served on a port-0 listener and a memory
//! databroker served over gRPC (split mode, in one test process).

#[path = "authorize/support.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use portcullis_authorize::Engine;
use portcullis_databroker::{RecordWrite, Storage, StorageOptions};
use portcullis_grpc::{AuthorizeClient, UrlSigner};
use portcullis_proto::{AuthorizeRequest, Authorizer, Session};
use support::{
    Login, check, check_app, denied, envoy_client, header, later_session, ok, session_cookie, token,
};
use tokio::sync::oneshot;

const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");

/// A memory databroker and an authorize reading it over gRPC, both on 127.0.0.1:0.
struct Cluster {
    databroker: Arc<dyn Storage>,
    authorize: SocketAddr,
    stop_databroker: Option<oneshot::Sender<()>>,
    databroker_task: tokio::task::JoinHandle<()>,
}

async fn cluster() -> Cluster {
    let storage = portcullis_databroker::open_storage(&StorageOptions::Memory)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_databroker, stopped) = oneshot::channel::<()>();
    let databroker_task = tokio::spawn(async move {
        let stopped = async {
            let _ = stopped.await;
        };
        portcullis_databroker::serve_storage(storage, &support::secret(), listener, stopped)
            .await
            .unwrap();
    });
    let databroker: Arc<dyn Storage> =
        Arc::new(portcullis_databroker::connect(&url, &support::secret()).unwrap());

    // Deny pages list the policy reasons (the 403 tests read them).
    let config = support::config(Some(&url), "show_error_details: true\n");
    let engine = Arc::new(
        Engine::new(
            &config,
            portcullis_authorize::connect_databroker(&config).unwrap(),
        )
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authorize = listener.local_addr().unwrap();
    tokio::spawn(async move {
        portcullis_authorize::serve(engine, &support::secret(), listener, std::future::pending())
            .await
            .unwrap();
    });
    Cluster {
        databroker,
        authorize,
        stop_databroker: Some(stop_databroker),
        databroker_task,
    }
}

fn jwt_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_carries_identity_and_loses_credentials() {
    let cluster = cluster().await;
    let envoy = envoy_client(cluster.authorize);
    // Checked right after the write: the handle's version makes authorize wait for its
    // replica (read-your-writes) instead of saying "no session".
    let handle = Login::new("ann", "ann@example.com")
        .write(&*cluster.databroker)
        .await;
    let cookie = format!("other=1; _portcullis={}", token(&handle));
    let response = envoy
        .check(check(
            Some("app"),
            "app.example.com",
            "/dash?x=1",
            &[
                ("cookie", &cookie),
                ("x-portcullis-jwt-assertion", "spoofed"),
                ("x-portcullis-claim-email", "boss@example.com"),
                ("x-portcullis-something", "spoofed"),
                ("x-email", "boss@example.com"),
            ],
        ))
        .await
        .unwrap();
    let ok = ok(&response);
    let jwt = header(&ok.headers, "x-portcullis-jwt-assertion").expect("the identity JWT");
    assert_ne!(jwt, "spoofed");
    let claims = jwt_claims(jwt);
    assert_eq!(claims["sub"], "user-ann");
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["sid"], "session-ann");
    assert_eq!(claims["aud"], "app.example.com");
    assert_eq!(claims["groups"], serde_json::json!(["staff"]));
    assert_eq!(header(&ok.headers, "x-email"), Some("ann@example.com"));
    assert_eq!(header(&ok.headers, "x-team"), Some("core"), "an IdP claim");
    assert_eq!(
        header(&ok.headers, "x-portcullis-claim-email"),
        Some("ann@example.com")
    );
    assert_eq!(
        header(&ok.headers, "x-portcullis-claim-user"),
        Some("user-ann")
    );
    assert_eq!(
        header(&ok.headers, "cookie"),
        Some("other=1"),
        "the session cookie is cut out"
    );
    assert!(
        ok.headers.iter().all(|h| h.append_action == 2),
        "set headers overwrite"
    );
    assert!(
        ok.headers_to_remove
            .contains(&"x-portcullis-something".to_owned())
    );
    for set in ok.headers.iter().filter_map(|h| h.header.as_ref()) {
        assert!(
            !ok.headers_to_remove.contains(&set.key),
            "{} is both set and removed",
            set.key
        );
    }

    // The bearer forms are accepted and never reach the upstream.
    let bearer = format!("Bearer Portcullis-{}", token(&handle));
    for name in ["authorization", "x-portcullis-authorization"] {
        let response = envoy.check(check_app(&[(name, &bearer)])).await.unwrap();
        assert!(ok_removes(&response, name), "{name}: {response:?}");
    }
}

fn ok_removes(
    response: &envoy_types::pb::envoy::service::auth::v3::CheckResponse,
    name: &str,
) -> bool {
    ok(response).headers_to_remove.iter().any(|h| h == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_the_policy_rejects_gets_403_with_reasons() {
    let cluster = cluster().await;
    let envoy = envoy_client(cluster.authorize);
    let mallory = Login::new("mallory", "mallory@evil.test")
        .write(&*cluster.databroker)
        .await;
    let cookie = session_cookie(&mallory);
    let response = envoy
        .check(check_app(&[("cookie", &cookie), BROWSER]))
        .await
        .unwrap();
    let (code, status, d) = denied(&response);
    assert_eq!((code, status), (7, 403), "PERMISSION_DENIED / 403");
    assert!(
        d.body.contains("domain-unauthorized") && d.body.contains("req-1234"),
        "{}",
        d.body
    );

    let ann = Login::new("ann", "ann@example.com")
        .write(&*cluster.databroker)
        .await;
    let cookie = session_cookie(&ann);
    let response = envoy
        .check(check(
            Some("admin"),
            "admin.example.com",
            "/",
            &[("cookie", &cookie)],
        ))
        .await
        .unwrap();
    let (_, status, d) = denied(&response);
    assert_eq!(status, 403);
    assert!(d.body.contains("groups-unauthorized"), "{}", d.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_browsers_are_redirected_and_api_and_grpc_clients_get_401() {
    let cluster = cluster().await;
    let envoy = envoy_client(cluster.authorize);
    let ask = |headers: &'static [(&'static str, &'static str)]| {
        envoy.check(check(Some("app"), "app.example.com", "/dash?x=1", headers))
    };

    let response = ask(&[BROWSER]).await.unwrap();
    let (code, status, d) = denied(&response);
    assert_eq!((code, status), (16, 302));
    let location = url::Url::parse(header(&d.headers, "location").unwrap()).unwrap();
    let clean = UrlSigner::new(&support::SHARED_SECRET)
        .verify(&location, std::time::SystemTime::now())
        .expect("the sign-in URL is signed with the shared secret");
    assert!(
        clean
            .as_str()
            .starts_with("https://auth.example.com/.portcullis/sign_in?")
    );
    let redirect = clean
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1;
    assert_eq!(redirect, "https://app.example.com/dash?x=1");

    for accept in [
        &[("accept", "application/json")][..],
        &[("accept", "*/*")],
        &[],
    ] {
        let response = ask(accept).await.unwrap();
        let (code, status, d) = denied(&response);
        assert_eq!((code, status), (16, 401), "{accept:?}");
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["error"], "unauthenticated");
        assert_eq!(header(&d.headers, "content-type"), Some("application/json"));
    }

    let response = ask(&[("content-type", "application/grpc"), BROWSER])
        .await
        .unwrap();
    let (_, status, d) = denied(&response);
    assert_eq!(status, 401);
    assert_eq!(header(&d.headers, "grpc-status"), Some("16"));

    // A cookie that is not a handle of this cluster is no session either.
    let response = ask(&[("cookie", "_portcullis=forged"), BROWSER])
        .await
        .unwrap();
    assert_eq!(denied(&response).1, 302);

    // A public route needs no session; the route is found by host when Envoy sends no id,
    // and a client-sent identity JWT is removed.
    let response = envoy
        .check(check(
            None,
            "public.example.com",
            "/",
            &[("x-portcullis-jwt-assertion", "spoofed")],
        ))
        .await
        .unwrap();
    assert!(ok_removes(&response, "x-portcullis-jwt-assertion"));
    assert!(header(&ok(&response).headers, "x-portcullis-jwt-assertion").is_none());

    let response = envoy
        .check(check(Some("nope"), "app.example.com", "/", &[]))
        .await
        .unwrap();
    assert_eq!(denied(&response).1, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_no_session() {
    let cluster = cluster().await;
    let envoy = envoy_client(cluster.authorize);
    let mut login = Login::new("old", "old@example.com");
    login.expires_in = Duration::ZERO;
    let handle = login.write(&*cluster.databroker).await;
    let cookie = session_cookie(&handle);
    let response = envoy
        .check(check_app(&[("cookie", &cookie)]))
        .await
        .unwrap();
    assert_eq!(denied(&response).1, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_session_is_revoked_within_a_second() {
    let cluster = cluster().await;
    let envoy = envoy_client(cluster.authorize);
    let handle = Login::new("ann", "ann@example.com")
        .write(&*cluster.databroker)
        .await;
    let cookie = session_cookie(&handle);
    let request = check_app(&[("cookie", &cookie)]);
    ok(&envoy.check(request.clone()).await.unwrap());

    cluster
        .databroker
        .put(vec![RecordWrite::delete(Session::TYPE, &handle.session_id)])
        .await
        .unwrap();
    let deleted = Instant::now();
    let status =
        portcullis_testing::wait::until_async(Duration::from_secs(1), "revocation", || {
            let envoy = &envoy;
            let request = request.clone();
            async move {
                let response = envoy.check(request).await.unwrap();
                (response.status.as_ref().map_or(0, |s| s.code) != 0).then(|| denied(&response).1)
            }
        })
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(
        deleted.elapsed() < Duration::from_secs(1),
        "{:?}",
        deleted.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_needs_a_credential_and_the_proxy_client_speaks_it() {
    let cluster = cluster().await;
    let mut envoy = envoy_client(cluster.authorize);
    let request = check(Some("public"), "public.example.com", "/", &[]);
    ok(&envoy.check(request.clone()).await.unwrap());
    envoy.key = None;
    let error = envoy.check(request.clone()).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unauthenticated);
    envoy.key = Some(portcullis_authorize::ext_authz_key(&[1; 32]));
    let error = envoy.check(request).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unauthenticated);

    // The proxy's split-mode client: the Authorizer trait over Check, with service tokens.
    let handle = Login::new("ann", "ann@example.com")
        .write(&*cluster.databroker)
        .await;
    let client =
        AuthorizeClient::connect(&format!("http://{}", cluster.authorize), &support::secret())
            .unwrap();
    let authorizer: &dyn Authorizer = &client;
    let decision = authorizer
        .authorize(&AuthorizeRequest {
            route_id: Some("app".into()),
            method: "GET".into(),
            scheme: "https".into(),
            host: "app.example.com".into(),
            path: "/".into(),
            headers: vec![("cookie".into(), session_cookie(&handle))],
            ..AuthorizeRequest::default()
        })
        .await;
    let portcullis_proto::AuthorizeDecision::Allow(allow) = decision else {
        panic!("expected an allow, got {decision:?}");
    };
    assert!(allow.header("x-portcullis-jwt-assertion").is_some());
    assert!(allow.remove_headers.contains(&"cookie".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_databroker_down_an_unknown_session_is_503_never_an_allow() {
    let mut cluster = cluster().await;
    let envoy = envoy_client(cluster.authorize);
    let known = Login::new("ann", "ann@example.com")
        .write(&*cluster.databroker)
        .await;
    let known_cookie = session_cookie(&known);
    ok(&envoy
        .check(check_app(&[("cookie", &known_cookie)]))
        .await
        .unwrap());

    let _ = cluster.stop_databroker.take().unwrap().send(());
    tokio::time::timeout(Duration::from_secs(10), &mut cluster.databroker_task)
        .await
        .expect("the databroker stops")
        .unwrap();

    // A session written after the replica lost its stream (a later version it never saw).
    let unknown = later_session(known.version);
    let cookie = session_cookie(&unknown);
    let response = envoy
        .check(check_app(&[("cookie", &cookie), BROWSER]))
        .await
        .unwrap();
    let (code, status, _) = denied(&response);
    assert_eq!((code, status), (14, 503), "UNAVAILABLE / 503");

    // What the replica holds still decides.
    ok(&envoy
        .check(check_app(&[("cookie", &known_cookie)]))
        .await
        .unwrap());
}
