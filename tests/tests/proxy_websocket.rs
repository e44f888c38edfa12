//! WebSockets through the proxy: an echo through an allowed upgrade, upgrades refused on
//! routes without `allow_websockets`, and an open socket closed within two seconds of its
//! session being deleted (the proxy re-authorizes upgraded connections every second).

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use std::time::{Duration, Instant};

use support::{Harness, route};
use upstreams::WsEcho;
use upstreams::ws::{self, Message, Ws};

async fn open(proxy: &Harness, host: &str, cookie: &str) -> Result<Ws, String> {
    ws::connect(proxy.addr, host, "/socket", &[("cookie", cookie)]).await
}

async fn echo(ws: &mut Ws, text: &str) {
    let message = Message::Text(text.to_owned());
    ws.send(&message).await.expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.recv())
        .await
        .expect("an echo within 5 s")
        .expect("the socket is open");
    assert_eq!(reply, message);
}

fn routes(echo: &WsEcho) -> String {
    [
        route(
            "ws",
            "https://ws.example.com",
            &echo.url(),
            "allowed_domains: [example.com], allow_websockets: true",
        ),
        route(
            "no-ws",
            "https://plain.example.com",
            &echo.url(),
            "allowed_domains: [example.com]",
        ),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_echo_through_allowed_routes_only() {
    let upstream = WsEcho::start().await;
    let proxy = Harness::start(&routes(&upstream)).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let cookie = format!("{}; theme=dark", alice.cookie());

    let mut ws = open(&proxy, "ws.example.com", &cookie)
        .await
        .expect("upgrade");
    for i in 0..3 {
        echo(&mut ws, &format!("hello {i}")).await;
    }
    let big = Message::Binary((0..200_000u32).map(|i| (i % 251) as u8).collect());
    ws.send(&big).await.unwrap();
    assert_eq!(
        ws.recv().await,
        Some(big),
        "a large binary frame, byte for byte"
    );
    ws.send(&Message::Close).await.unwrap();

    let seen = upstream.headers.lock().unwrap().clone();
    let upgrade = seen.last().expect("the upstream saw the upgrade");
    let header = |n: &str| upgrade.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        header("cookie").as_deref(),
        Some("theme=dark"),
        "no session cookie upstream"
    );
    assert!(
        header("x-portcullis-jwt-assertion").is_some(),
        "identity passed"
    );

    // Without `allow_websockets` the upgrade headers never reach the upstream, which then
    // refuses the plain request.
    let refused = open(&proxy, "plain.example.com", &cookie).await;
    assert_eq!(refused.err().as_deref(), Some("HTTP/1.1 400 Bad Request"));
    assert_eq!(upstream.headers.lock().unwrap().len(), 1);
    // Nor without a session.
    let anonymous = open(&proxy, "ws.example.com", "theme=dark").await;
    assert_eq!(
        anonymous.err().as_deref(),
        Some("HTTP/1.1 401 Unauthorized")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_session_closes_an_open_websocket_within_two_seconds() {
    let upstream = WsEcho::start().await;
    let proxy = Harness::start(&routes(&upstream)).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let mut ws = open(&proxy, "ws.example.com", &alice.cookie())
        .await
        .expect("upgrade");
    echo(&mut ws, "before").await;
    // Several re-authorizations pass while the session lives.
    let alive_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < alive_until {
        echo(&mut ws, "still here").await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    alice.revoke(proxy.databroker.as_ref()).await;
    let revoked = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(message) = ws.recv().await {
            if message == Message::Close {
                return;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the socket was still open 2 s after the session was deleted"
    );
    assert!(revoked.elapsed() < Duration::from_secs(2));
    // And a new upgrade with the dead session is refused.
    assert!(
        open(&proxy, "ws.example.com", &alice.cookie())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_websockets() {
    let upstream = WsEcho::start().await;
    let proxy = Harness::start(&routes(&upstream)).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let mut ws = open(&proxy, "ws.example.com", &alice.cookie())
        .await
        .expect("upgrade");
    echo(&mut ws, "before shutdown").await;
    let stopping = tokio::spawn(proxy.stop());
    let closed = tokio::time::timeout(Duration::from_secs(2), ws.recv()).await;
    assert_eq!(closed, Ok(None), "the tunnel closes when shutdown begins");
    stopping.await.unwrap().expect("serve ends cleanly");
}
