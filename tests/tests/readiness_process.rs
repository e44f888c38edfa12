//! `/readyz` on the proxy listener: not ready until the authorize replica has its first
//! databroker snapshot (so no traffic is sent before sessions can be checked), ready after.

use portcullis_testing::process::Portcullis;

const SECRET: &str = "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=";

fn config(services: &str, databroker: Option<&str>) -> String {
    let mut text = format!(
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
         routes:\n  - from: http://app.example.test\n    to: http://127.0.0.1:9\n"
    );
    if let Some(url) = databroker {
        text.push_str(&format!("databroker_service_url: {url}\n"));
    }
    text
}

async fn readyz(portcullis: &Portcullis) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(format!("http://{}/readyz", portcullis.address("proxy")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_replica_has_synced() {
    // A databroker address that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let waiting = Portcullis::start(&config("proxy,authorize", Some(&url))).unwrap();
    let (status, body) = readyz(&waiting).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(body["components"]["databroker sync"], false);
    // Liveness is another matter: the process is alive.
    let ping = reqwest::get(format!("http://{}/ping", waiting.address("proxy")))
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);

    let all_in_one = Portcullis::start(&config("all", None)).unwrap();
    let (status, body) = readyz(&all_in_one).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["components"]["databroker sync"], true);
    drop(silent);
}
