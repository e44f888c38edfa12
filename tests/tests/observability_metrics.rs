//! `/metrics` at `metrics_address`, scraped after real traffic through a real process and
//! parsed by an independent OpenMetrics parser (Python prometheus-client): the counters move
//! by exactly the requests sent, histograms count them, basic auth guards the listener.

use base64::Engine as _;
use portcullis_testing::process::Portcullis;
use portcullis_testing::prometheus::{self, Sample, value};
use portcullis_testing::upstream::EchoUpstream;

const SECRET: &str = "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=";
const METRICS_USER: &str = "prom:s3cret-scrape";

fn config(upstream: &str, closed: &str) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(METRICS_USER);
    format!(
        "address: 127.0.0.1:0\n\
         grpc_address: 127.0.0.1:0\n\
         metrics_address: 127.0.0.1:0\n\
         metrics_basic_auth: {basic}\n\
         insecure_server: true\n\
         shared_secret: {SECRET}\n\
         cookie_secret: {SECRET}\n\
         authenticate_service_url: http://authenticate.example.test\n\
         idp_provider: oidc\n\
         idp_provider_url: http://127.0.0.1:9/\n\
         idp_client_id: portcullis\n\
         idp_client_secret: unused\n\
         routes:\n\
         \x20 - id: open\n    from: http://open.example.test\n    to: {upstream}\n    allow_public_unauthenticated_access: true\n\
         \x20 - id: closed\n    from: http://closed.example.test\n    to: {upstream}\n    allowed_users: [nobody@example.test]\n\
         \x20 - id: down\n    from: http://down.example.test\n    to: {closed}\n    allow_public_unauthenticated_access: true\n"
    )
}

async fn get(portcullis: &Portcullis, host: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{}/x", portcullis.address("proxy")))
        .header("host", host)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn scrape(portcullis: &Portcullis, auth: Option<&str>) -> reqwest::Response {
    let mut request =
        reqwest::Client::new().get(format!("http://{}/metrics", portcullis.address("metrics")));
    if let Some(pair) = auth {
        let (user, pass) = pair.split_once(':').unwrap();
        request = request.basic_auth(user, Some(pass));
    }
    request.send().await.unwrap()
}

async fn samples(portcullis: &Portcullis) -> Vec<Sample> {
    let response = scrape(portcullis, Some(METRICS_USER)).await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    prometheus::parse(&text).unwrap_or_else(|e| panic!("invalid exposition: {e}\n{text}"))
}

fn requests(samples: &[Sample], route: &str, class: &str) -> f64 {
    value(
        samples,
        "portcullis_http_requests_total",
        &[("route", route), ("status_class", class)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_by_exactly_the_traffic_sent() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    // A port nothing listens on: the "down" route's upstream.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let portcullis = Portcullis::start(&config(&upstream.url(), &closed_url)).unwrap();

    // Basic auth: nothing without the configured pair.
    let anonymous = scrape(&portcullis, None).await;
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        scrape(&portcullis, Some("prom:wrong"))
            .await
            .status()
            .as_u16(),
        401
    );

    let before = samples(&portcullis).await;
    for _ in 0..3 {
        assert_eq!(get(&portcullis, "open.example.test").await, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(&portcullis, "closed.example.test").await, 401);
    }
    assert_eq!(get(&portcullis, "nowhere.example.test").await, 404);
    assert_eq!(get(&portcullis, "down.example.test").await, 502);
    let after = samples(&portcullis).await;
    let moved = |f: &dyn Fn(&[Sample]) -> f64| f(&after) - f(&before);

    assert_eq!(moved(&|s| requests(s, "open", "2xx")), 3.0);
    assert_eq!(moved(&|s| requests(s, "closed", "4xx")), 2.0);
    assert_eq!(
        moved(&|s| requests(s, "-", "4xx")),
        1.0,
        "the 404 has no route"
    );
    assert_eq!(moved(&|s| requests(s, "down", "5xx")), 1.0);
    assert_eq!(moved(&|s| requests(s, "open", "4xx")), 0.0);
    let histogram = |s: &[Sample], name: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![("route", "open"), ("status_class", "2xx")];
        labels.extend_from_slice(extra);
        value(s, name, &labels)
    };
    let count = "portcullis_http_request_duration_seconds_count";
    let bucket = "portcullis_http_request_duration_seconds_bucket";
    assert_eq!(moved(&|s| histogram(s, count, &[])), 3.0);
    assert_eq!(moved(&|s| histogram(s, bucket, &[("le", "+Inf")])), 3.0);
    assert!(
        after.iter().any(
            |s| s.family == "portcullis_http_request_duration_seconds" && s.kind == "histogram"
        )
    );
    assert_eq!(
        moved(&|s| value(
            s,
            "portcullis_upstream_errors_total",
            &[("route", "down"), ("kind", "connect")]
        )),
        1.0
    );

    // Authorize: three allowed on `open`, one on `down`, two denied as unauthenticated.
    let decisions = |s: &[Sample], result, status| {
        value(
            s,
            "portcullis_authorize_decisions_total",
            &[("result", result), ("status", status)],
        )
    };
    assert_eq!(moved(&|s| decisions(s, "allow", "200")), 4.0);
    assert_eq!(moved(&|s| decisions(s, "deny", "401")), 2.0);
    assert_eq!(
        moved(&|s| value(s, "portcullis_authorize_duration_seconds_count", &[])),
        6.0
    );
    assert!(
        moved(&|s| value(
            s,
            "portcullis_authorize_decision_reasons_total",
            &[("result", "deny")]
        )) >= 2.0
    );

    // Upstream connections were opened to the echo upstream.
    let upstream_label = upstream.url().trim_start_matches("http://").to_owned();
    assert!(
        value(
            &after,
            "portcullis_upstream_connections_opened_total",
            &[("upstream", &upstream_label)]
        ) >= 1.0
    );
    // Process-wide families.
    assert_eq!(
        value(
            &after,
            "portcullis_config_reloads_total",
            &[("result", "success")]
        ),
        1.0
    );
    assert!(
        value(
            &after,
            "portcullis_config_last_reload_success_timestamp_seconds",
            &[]
        ) > 1.6e9
    );
    let build = after
        .iter()
        .find(|s| s.name == "portcullis_build_info")
        .expect("build info");
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        value(
            &after,
            "portcullis_databroker_operations_total",
            &[
                ("backend", "memory"),
                ("operation", "sync_latest"),
                ("result", "ok")
            ]
        ) >= 1.0
    );
    for sample in &after {
        assert!(sample.name.starts_with("portcullis_"), "{}", sample.name);
    }
}
