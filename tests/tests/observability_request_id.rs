//! Request ids across split roles (a proxy process and a databroker+authorize process): the
//! same id in the response header, the upstream request, the proxy's access line and
//! authorize's decision line; deny pages (HTML and JSON) carrying it, with the policy
//! reasons under `show_error_details`; gRPC call metrics on both sides.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use portcullis_grpc::{SessionHandleCodec, SharedSecret};
use portcullis_proto::{Session, User};
use portcullis_testing::process::Portcullis;
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::{prometheus, wait};
use serde_json::Value;

const SECRET: &str = "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=";
const WAIT: Duration = Duration::from_secs(20);

fn config(services: &str, extra: &str, upstream: &str) -> String {
    format!(
        "services: {services}\n\
         address: 127.0.0.1:0\n\
         grpc_address: 127.0.0.1:0\n\
         metrics_address: 127.0.0.1:0\n\
         insecure_server: true\n\
         show_error_details: true\n\
         shared_secret: {SECRET}\n\
         cookie_secret: {SECRET}\n\
         authenticate_service_url: http://authenticate.example.test\n\
         {extra}\
         routes:\n\
         \x20 - id: open\n    from: http://open.example.test\n    to: {upstream}\n    allow_public_unauthenticated_access: true\n\
         \x20 - id: closed\n    from: http://closed.example.test\n    to: {upstream}\n    allowed_users: [nobody@example.test]\n"
    )
}

/// The one log line of `process` with `message` and `request_id`, waited for.
fn line(process: &Portcullis, message: &str, request_id: &str) -> Value {
    wait::until(WAIT, &format!("a {message} line for {request_id}"), || {
        process
            .json_lines()
            .into_iter()
            .find(|l| l["message"] == message && l["request_id"] == request_id)
    })
    .unwrap()
}

async fn get(
    proxy: std::net::SocketAddr,
    host: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("http://{proxy}/page"))
        .header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_id_from_client_to_upstream_through_both_roles() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let core = Portcullis::start(&config("databroker,authorize", "", &upstream.url())).unwrap();
    let grpc = core.address("databroker");
    let peers =
        format!("authorize_service_url: http://{grpc}\ndatabroker_service_url: http://{grpc}\n");
    let edge = Portcullis::start(&config("proxy", &peers, &upstream.url())).unwrap();
    let proxy = edge.address("proxy");
    wait::until_async(WAIT, "the proxy to be ready", || async move {
        let r = reqwest::get(format!("http://{proxy}/readyz")).await.ok()?;
        (r.status().as_u16() == 200).then_some(())
    })
    .await
    .unwrap();

    // A sane client id is kept end to end.
    let response = get(proxy, "open.example.test", &[("x-request-id", "obs-req-1")]).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "x-request-id"), "obs-req-1");
    let received = upstream.received();
    assert_eq!(
        received.last().unwrap().header("x-request-id"),
        Some("obs-req-1")
    );
    let access = line(&edge, "access", "obs-req-1");
    assert_eq!(access["status"], 200);
    assert_eq!(access["route"], "open");
    assert_eq!(access["host"], "open.example.test");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/page");
    assert!(
        access["duration_ms"].is_number() && access["bytes"].is_number(),
        "{access}"
    );
    assert!(access["upstream"].as_str().unwrap().contains("127.0.0.1"));
    let decision = line(&core, "decision", "obs-req-1");
    assert_eq!(
        (decision["decision"].as_str(), decision["route"].as_str()),
        (Some("allow"), Some("open"))
    );

    // An unsafe one is replaced by a fresh id, used the same way.
    let response = get(proxy, "open.example.test", &[("x-request-id", "<script>")]).await;
    let fresh = header(&response, "x-request-id");
    assert_ne!(fresh, "<script>");
    assert_eq!(fresh.len(), 32);
    line(&core, "decision", &fresh);

    // A signed-in user the route refuses: 403 page with id and reasons.
    let secret: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(SECRET)
        .unwrap()
        .try_into()
        .unwrap();
    let databroker =
        portcullis_databroker::connect(&format!("http://{grpc}"), &SharedSecret::from(secret))
            .unwrap();
    let now = SystemTime::now();
    let session = Session {
        id: "session-obs".into(),
        user_id: "user-obs".into(),
        issued_at: now,
        expires_at: now + Duration::from_secs(3600),
        refreshed_at: None,
        claims: serde_json::Map::new(),
        oauth_token: None,
        id_token: portcullis_proto::SecretString::new("id-token"),
    };
    let user = User {
        id: "user-obs".into(),
        email: "alice@example.test".into(),
        name: "Alice".into(),
        groups: vec![],
        claims: serde_json::Map::new(),
    };
    let handle = portcullis_testing::login::write_login(&databroker, &session, &user).await;
    let cookie = format!(
        "_portcullis={}",
        SessionHandleCodec::new(&secret).seal(&handle)
    );
    let html = wait::until_async(WAIT, "the session to reach authorize", || {
        let cookie = cookie.clone();
        async move {
            let r = get(
                proxy,
                "closed.example.test",
                &[
                    ("cookie", &cookie),
                    ("accept", "text/html"),
                    ("x-request-id", "obs-deny-1"),
                ],
            )
            .await;
            (r.status().as_u16() == 403).then_some(r)
        }
    })
    .await
    .unwrap();
    assert_eq!(header(&html, "x-frame-options"), "DENY");
    assert_eq!(header(&html, "x-content-type-options"), "nosniff");
    assert!(header(&html, "content-type").starts_with("text/html"));
    let page = html.text().await.unwrap();
    assert!(
        page.contains("obs-deny-1") && page.contains("Reasons:"),
        "{page}"
    );
    let decision = line(&core, "decision", "obs-deny-1");
    assert_eq!(decision["user"], "user-obs");
    assert!(
        page.contains(
            decision["reasons"]
                .as_str()
                .unwrap()
                .split(',')
                .next()
                .unwrap()
        )
    );

    let json = get(
        proxy,
        "closed.example.test",
        &[
            ("cookie", &cookie),
            ("accept", "application/json"),
            ("x-request-id", "obs-deny-2"),
        ],
    )
    .await;
    let body: Value = serde_json::from_str(&json.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 403);
    assert_eq!(body["request_id"], "obs-deny-2");
    assert!(!body["reasons"].as_array().unwrap().is_empty(), "{body}");

    // The allowed user shows in the access line.
    let response = get(
        proxy,
        "open.example.test",
        &[("cookie", &cookie), ("x-request-id", "obs-user")],
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(line(&edge, "access", "obs-user")["user"], "user-obs");

    // The proxy's own pages: 404 for an unknown host, as HTML and as JSON.
    let missing = get(proxy, "nowhere.example.test", &[("accept", "text/html")]).await;
    assert_eq!(missing.status().as_u16(), 404);
    let id = header(&missing, "x-request-id");
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains(&format!("<code>{id}</code>"))
    );
    assert_eq!(line(&edge, "access", &id)["status"], 404);
    let missing = get(
        proxy,
        "nowhere.example.test",
        &[("accept", "application/json")],
    )
    .await;
    let id = header(&missing, "x-request-id");
    let body: Value = serde_json::from_str(&missing.text().await.unwrap()).unwrap();
    assert_eq!(
        (body["status"].as_u64(), body["request_id"].as_str()),
        (Some(404), Some(id.as_str()))
    );
    assert!(body.get("reasons").is_none());

    // gRPC metrics: the proxy's Check calls, as client and as the server saw them.
    let scrape = |process: &Portcullis| {
        let url = format!("http://{}/metrics", process.address("metrics"));
        async move {
            let text = reqwest::get(url).await.unwrap().text().await.unwrap();
            prometheus::parse(&text).unwrap()
        }
    };
    let check = [
        ("method", "/envoy.service.auth.v3.Authorization/Check"),
        ("code", "Ok"),
    ];
    let client = prometheus::value(
        &scrape(&edge).await,
        "portcullis_grpc_client_calls_total",
        &check,
    );
    let server = prometheus::value(
        &scrape(&core).await,
        "portcullis_grpc_server_calls_total",
        &check,
    );
    assert!(client >= 5.0, "{client}");
    assert_eq!(
        client, server,
        "every Check the proxy made, authorize served"
    );
}
