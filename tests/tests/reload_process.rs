//! Configuration reload in a running all-in-one process: routes added and removed by editing
//! the file while requests flow — with not one failed request — an invalid file rejected with
//! the old configuration still serving, and SIGHUP forcing a reload.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use portcullis_testing::process::Portcullis;
use portcullis_testing::upstream::EchoUpstream;
use portcullis_testing::wait;

fn config(upstream: &str, routes: &[&str]) -> String {
    let mut text = String::from(
        "address: 127.0.0.1:0\n\
         grpc_address: 127.0.0.1:0\n\
         insecure_server: true\n\
         authenticate_service_url: http://authenticate.example.test\n\
         idp_provider: oidc\n\
         idp_provider_url: http://127.0.0.1:9/\n\
         idp_client_id: portcullis\n\
         idp_client_secret: unused\n\
         routes:\n",
    );
    for host in routes {
        text.push_str(&format!(
            "  - from: http://{host}.example.test\n    to: {upstream}\n    allow_public_unauthenticated_access: true\n"
        ));
    }
    text
}

async fn status(client: &reqwest::Client, proxy: std::net::SocketAddr, host: &str) -> u16 {
    client
        .get(format!("http://{proxy}/"))
        .header("host", format!("{host}.example.test"))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_change_without_a_failed_request_and_bad_files_are_rejected() {
    let upstream = EchoUpstream::start("app").await.unwrap();
    let mut portcullis =
        Portcullis::start(&config(&upstream.url(), &["keep", "old"])).expect("portcullis starts");
    let proxy = portcullis.address("proxy");
    let client = reqwest::Client::new();
    assert_eq!(status(&client, proxy, "keep").await, 200);
    assert_eq!(status(&client, proxy, "old").await, 200);
    assert_eq!(status(&client, proxy, "new").await, 404);

    // Steady traffic on a route both configurations have, through the whole reload.
    let (done, sent, failed) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load = {
        let (done, sent, failed, client) =
            (done.clone(), sent.clone(), failed.clone(), client.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let code = status(&client, proxy, "keep").await;
                sent.fetch_add(1, Ordering::Relaxed);
                if code != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    std::fs::write(
        portcullis.config_file(),
        config(&upstream.url(), &["keep", "new"]),
    )
    .unwrap();
    wait::until_async(
        Duration::from_secs(10),
        "the new route to serve",
        || async { (status(&client, proxy, "new").await == 200).then_some(()) },
    )
    .await
    .unwrap();
    assert_eq!(
        status(&client, proxy, "old").await,
        404,
        "the removed route is gone"
    );
    assert!(portcullis.has_log("configuration reloaded"));

    // An invalid file: logged, and the running configuration keeps serving.
    std::fs::write(portcullis.config_file(), "routes: [{from: nonsense}]\n").unwrap();
    wait::until(
        Duration::from_secs(10),
        "the bad file to be rejected",
        || {
            portcullis
                .has_log("configuration rejected; the previous one keeps serving")
                .then_some(())
        },
    )
    .unwrap();
    assert_eq!(status(&client, proxy, "new").await, 200);

    done.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        sent > 50,
        "the load ran through the reloads ({sent} requests)"
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "of {sent} requests");

    // SIGHUP reloads even when the file did not change.
    std::fs::write(
        portcullis.config_file(),
        config(&upstream.url(), &["keep", "new", "third"]),
    )
    .unwrap();
    portcullis.hangup().unwrap();
    wait::until_async(Duration::from_secs(10), "SIGHUP to reload", || async {
        (status(&client, proxy, "third").await == 200).then_some(())
    })
    .await
    .unwrap();
    wait::until(
        Duration::from_secs(10),
        "the SIGHUP reload to be logged",
        || {
            portcullis
                .json_lines()
                .iter()
                .any(|l| l["message"] == "configuration reloaded" && l["reason"] == "SIGHUP")
                .then_some(())
        },
    )
    .unwrap();
    portcullis.terminate().unwrap();
}
