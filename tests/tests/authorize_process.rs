//! The real `portcullis` binary: `services: authorize` reading a separate `services:
//! databroker` process, and both roles in one process on one gRPC listener.

#[path = "authorize/support.rs"]
mod support;

use std::time::Duration;

use portcullis_databroker::Storage;
use portcullis_testing::process::Portcullis;
use support::{Login, check_app, denied, envoy_client, later_session, ok, session_cookie, token};

fn start(config: &str) -> Portcullis {
    Portcullis::start(config).unwrap()
}

fn databroker_client(process: &Portcullis) -> portcullis_databroker::Client {
    let url = format!("http://{}", process.address("databroker"));
    portcullis_databroker::connect(&url, &support::secret()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_authorize_decides_logs_and_answers_503_once_the_databroker_is_gone() {
    let databroker_config = format!(
        "services: databroker\ngrpc_address: 127.0.0.1:0\nshared_secret: {}\n",
        support::SHARED_SECRET_B64
    );
    let mut databroker = tokio::task::spawn_blocking(move || start(&databroker_config))
        .await
        .unwrap();
    let url = format!("http://{}", databroker.address("databroker"));
    let config = support::config_yaml("authorize", Some(&url), "");
    let mut authorize = tokio::task::spawn_blocking(move || start(&config))
        .await
        .unwrap();

    let client = databroker_client(&databroker);
    let ann = Login::new("ann", "ann@example.com").write(&client).await;
    let envoy = envoy_client(authorize.address("authorize"));
    let cookie = session_cookie(&ann);
    let response = envoy
        .check(check_app(&[("cookie", &cookie)]))
        .await
        .unwrap();
    let jwt = support::header(&ok(&response).headers, "x-portcullis-jwt-assertion")
        .unwrap()
        .to_owned();

    // One decision line per decision, with who/what/why and no credentials.
    let line = portcullis_testing::wait::until(Duration::from_secs(5), "the decision log", || {
        authorize
            .json_lines()
            .into_iter()
            .find(|l| l["message"] == "decision" && l["request_id"] == "req-1234")
    })
    .unwrap();
    assert_eq!(line["route"], "app");
    assert_eq!(line["user"], "user-ann");
    assert_eq!(line["email"], "ann@example.com");
    assert_eq!(line["decision"], "allow");
    assert!(
        line["reasons"].as_str().unwrap().contains("domain-ok"),
        "{line}"
    );
    assert!(line["duration_us"].is_u64(), "{line}");
    let text = authorize.lines().join("\n");
    assert!(
        !text.contains(&token(&ann)[..20]) && !text.contains(&jwt),
        "credentials in logs"
    );

    // The databroker goes away: what the replica holds still decides, and a session it cannot
    // know about is 503.
    let status = tokio::task::spawn_blocking(move || databroker.terminate().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    ok(&envoy
        .check(check_app(&[("cookie", &cookie)]))
        .await
        .unwrap());
    let unknown = later_session(ann.version);
    let cookie = session_cookie(&unknown);
    let response = envoy
        .check(check_app(&[("cookie", &cookie)]))
        .await
        .unwrap();
    assert_eq!(denied(&response).1, 503);

    let status = tokio::task::spawn_blocking(move || authorize.terminate().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databroker_and_authorize_share_one_process_and_listener() {
    let config = support::config_yaml("databroker,authorize", None, "");
    let process = tokio::task::spawn_blocking(move || start(&config))
        .await
        .unwrap();
    assert_eq!(process.address("databroker"), process.address("authorize"));
    let client = databroker_client(&process);
    let ann = Login::new("ann", "ann@example.com").write(&client).await;
    assert!(client.server_info().await.unwrap().latest_record_version >= ann.version);
    let cookie = session_cookie(&ann);
    let response = envoy_client(process.address("authorize"))
        .check(check_app(&[("cookie", &cookie)]))
        .await
        .unwrap();
    ok(&response);
}
