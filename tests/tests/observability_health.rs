//! Readiness of every role, seen from outside: `/readyz` and `/.portcullis/status` on the
//! HTTP listeners, `grpc.health.v1` on the gRPC listener asked by an independent client
//! (Python grpcio-health-checking), and `portcullis health` — before the databroker is up,
//! once it is, and while draining.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use portcullis_testing::process::{Portcullis, executable};
use portcullis_testing::wait;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SECRET: &str = "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=";
const WAIT: Duration = Duration::from_secs(20);

const CHECK: &str = r#"
import sys, grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(sys.argv[1]))
request = health_pb2.HealthCheckRequest(service="")
if sys.argv[2] == "check":
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(stub.Check(request, timeout=5).status))
else:
    for answer in stub.Watch(request):
        print(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status), flush=True)
"#;

fn config(services: &str, extra: &str) -> String {
    format!(
        "services: {services}\n\
         address: 127.0.0.1:0\n\
         grpc_address: 127.0.0.1:0\n\
         insecure_server: true\n\
         shared_secret: {SECRET}\n\
         cookie_secret: {SECRET}\n\
         authenticate_service_url: http://authenticate.example.test\n\
         idp_provider: oidc\n\
         idp_provider_url: http://127.0.0.1:9/\n\
         idp_client_id: portcullis\n\
         idp_client_secret: unused\n\
         {extra}\
         routes:\n  - from: http://app.example.test\n    to: http://127.0.0.1:9\n    allow_public_unauthenticated_access: true\n"
    )
}

/// `grpc.health.v1.Health/Check` by Python's grpc client: `SERVING`, `NOT_SERVING`, ...
fn grpc_health(address: std::net::SocketAddr) -> String {
    let output = Command::new("python3")
        .args(["-c", CHECK, &address.to_string(), "check"])
        .output()
        .expect("python3 runs (scripts/setup installs grpcio-health-checking)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named"),
        "run scripts/setup: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `portcullis health --url <url>`'s exit code.
fn probe(url: &str) -> i32 {
    Command::new(executable())
        .args(["health", "--url", url, "--timeout", "2"])
        .output()
        .unwrap()
        .status
        .code()
        .unwrap_or(-1)
}

async fn readyz(address: std::net::SocketAddr) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(format!("http://{address}/readyz"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_waits_for_the_databroker_and_grpc_health_follows() {
    // The databroker's port, reserved and released: nothing answers there yet.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let databroker_url = format!("databroker_service_url: http://127.0.0.1:{port}\n");

    let authorize = Portcullis::start(&config("authorize", &databroker_url)).unwrap();
    let authorize_url = format!(
        "authorize_service_url: http://{}\n",
        authorize.address("authorize")
    );
    let proxy =
        Portcullis::start(&config("proxy", &(databroker_url.clone() + &authorize_url))).unwrap();
    let authenticate = Portcullis::start(&config("authenticate", &databroker_url)).unwrap();

    assert_eq!(grpc_health(authorize.address("authorize")), "NOT_SERVING");
    let (status, body) = readyz(proxy.address("proxy")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["components"]["databroker"], false);
    assert_eq!(body["components"]["config"], true);
    let (status, body) = readyz(authenticate.address("authenticate")).await;
    assert_eq!(status, 503, "{body}");
    let proxy_readyz = format!("http://{}/readyz", proxy.address("proxy"));
    assert_eq!(
        probe(&proxy_readyz),
        1,
        "portcullis health fails while not ready"
    );

    let _databroker = Portcullis::start(&config("databroker", "").replace(
        "grpc_address: 127.0.0.1:0",
        &format!("grpc_address: 127.0.0.1:{port}"),
    ))
    .unwrap();

    wait::until(WAIT, "authorize to report SERVING", || {
        (grpc_health(authorize.address("authorize")) == "SERVING").then_some(())
    })
    .unwrap();
    for address in [proxy.address("proxy"), authenticate.address("authenticate")] {
        wait::until_async(WAIT, "/readyz to say ready", || async move {
            (readyz(address).await.0 == 200).then_some(())
        })
        .await
        .unwrap();
    }
    assert_eq!(
        probe(&proxy_readyz),
        0,
        "portcullis health passes once ready"
    );
    let status = reqwest::get(format!(
        "http://{}/.portcullis/status",
        authenticate.address("authenticate")
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["ready"], true, "{status}");
    for component in ["config", "listeners", "databroker"] {
        assert_eq!(status["components"][component], true, "{status}");
    }
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_is_not_ready_while_in_flight_requests_finish() {
    // An upstream that holds its answer until told.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = slow.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await.unwrap();
        let _ = arrived_tx.send(());
        let _ = released.await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndone")
            .await;
    });
    let text = config("all", "").replace("to: http://127.0.0.1:9", &format!("to: {slow_url}"));
    let mut portcullis = Portcullis::start(&text).unwrap();
    let proxy = portcullis.address("proxy");
    let grpc = portcullis.address("databroker");
    wait::until_async(WAIT, "ready", || async move {
        (readyz(proxy).await.0 == 200).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(grpc_health(grpc), "SERVING");

    // A watcher on the gRPC listener, as balanced clients keep one.
    let mut watcher = Command::new("python3")
        .args(["-c", CHECK, &grpc.to_string(), "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (seen_tx, seen) = std::sync::mpsc::channel::<String>();
    let stdout = watcher.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = seen_tx.send(line);
        }
    });
    assert_eq!(seen.recv_timeout(WAIT).unwrap(), "SERVING");

    let in_flight = tokio::spawn(async move {
        let response = reqwest::Client::new()
            .get(format!("http://{proxy}/slow"))
            .header("host", "app.example.test")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    tokio::time::timeout(WAIT, arrived).await.unwrap().unwrap();
    let term = Command::new("kill")
        .args(["-TERM", &portcullis.pid().to_string()])
        .status()
        .unwrap();
    assert!(term.success());

    assert_eq!(
        seen.recv_timeout(WAIT).unwrap(),
        "NOT_SERVING",
        "the gRPC listener reports draining"
    );
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert_eq!(
        probe(&format!("http://{proxy}/readyz")),
        1,
        "not ready while draining"
    );
    assert!(
        !in_flight.is_finished(),
        "the slow request is still in flight"
    );

    let _ = release.send(());
    let (status, body) = tokio::time::timeout(WAIT, in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "done"),
        "in-flight requests finish"
    );
    let exit = portcullis.terminate().unwrap();
    assert!(exit.success(), "{exit:?}");
}
