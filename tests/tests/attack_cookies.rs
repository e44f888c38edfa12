//! Attack suite: cookies and session tokens (SECURITY.md, "What is tested"). Against the real
//! all-in-one process; every refused credential is an exact `401` (an API client: no
//! `Accept: text/html`) and the upstream sees nothing.

#[path = "attack/support.rs"]
mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_grpc::SessionHandleCodec;
use support::{APP, Cluster, Login};

/// `token` with one byte of its ciphertext changed.
fn tampered(token: &str, at: usize) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Each way of carrying `token`: cookie, `Authorization: Bearer Portcullis-`,
/// `X-Portcullis-Authorization`.
fn carriers(token: &str) -> [(&'static str, String); 3] {
    [
        ("cookie", format!("_portcullis={token}")),
        ("authorization", format!("Bearer Portcullis-{token}")),
        ("x-portcullis-authorization", token.to_owned()),
    ]
}

async fn assert_refused(cluster: &Cluster, case: &str, token: &str) {
    for (name, value) in carriers(token) {
        let before = cluster.seen().len();
        let reply = cluster.get(APP, "/", &[(name, &value)]).await;
        assert_eq!(reply.status, 401, "{case} in {name}: {}", reply.text());
        cluster.assert_upstream_saw(before, &format!("{case} in {name}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_changed_and_foreign_session_tokens_are_401_and_reach_nothing() {
    let cluster = Cluster::start().await;
    let ann = cluster.login("ann", "ann@example.com").await;

    // The genuine token passes in each carrier (so the refusals below mean something).
    for (name, value) in carriers(&ann.token) {
        let reply = cluster.get(APP, "/", &[(name, &value)]).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
    }
    let len = URL_SAFE_NO_PAD.decode(&ann.token).unwrap().len();
    let cases = [
        ("nonce changed", tampered(&ann.token, 0)),
        ("ciphertext changed", tampered(&ann.token, 14)),
        ("tag changed", tampered(&ann.token, len - 1)),
        (
            "truncated by a byte",
            URL_SAFE_NO_PAD.encode(&URL_SAFE_NO_PAD.decode(&ann.token).unwrap()[..len - 1]),
        ),
        (
            "truncated text",
            ann.token[..ann.token.len() - 6].to_owned(),
        ),
        ("half", ann.token[..ann.token.len() / 2].to_owned()),
        ("empty-ish", "A".to_owned()),
        ("garbage", "not-a-token!".to_owned()),
        ("padded", format!("{}==", ann.token)),
        ("doubled", format!("{}{}", ann.token, ann.token)),
        ("oversized", "A".repeat(4000)),
        (
            "another cluster's cookie_secret",
            SessionHandleCodec::new(&[0x33; 32]).seal(&ann.handle),
        ),
        (
            "sealed under the shared_secret instead",
            SessionHandleCodec::new(&support::SHARED_SECRET).seal(&ann.handle),
        ),
    ];
    for (case, token) in &cases {
        assert_refused(&cluster, case, token).await;
    }

    // A browser is sent to sign in instead — and still nothing reaches the upstream.
    let before = cluster.seen().len();
    let reply = cluster
        .get(
            APP,
            "/",
            &[
                ("accept", "text/html"),
                (
                    "cookie",
                    &format!("_portcullis={}", tampered(&ann.token, 20)),
                ),
            ],
        )
        .await;
    assert_eq!(reply.status, 302);
    assert!(
        reply
            .header("location")
            .is_some_and(|l| l.starts_with("http://authenticate.example.test/.portcullis/sign_in?")),
        "{:?}",
        reply.header("location")
    );
    cluster.assert_upstream_saw(before, "browser with a changed cookie");

    // A genuine session for a user the route does not allow: 403, not a pass.
    let eve = cluster.login("eve", "eve@evil.example").await;
    let before = cluster.seen().len();
    let reply = cluster.get(APP, "/", &[("cookie", &eve.cookie())]).await;
    assert_eq!(reply.status, 403);
    cluster.assert_upstream_saw(before, "a user the policy refuses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_signed_out_and_deleted_sessions_are_401() {
    let cluster = Cluster::start().await;

    // A session whose record has expired.
    let old = cluster.login_for("old", "old@example.com", None).await;
    assert_refused(&cluster, "expired session", &old.token).await;

    // Deleted in the databroker (what the refresh manager and sign-out do): refused within
    // a second on the same cookie.
    let del = cluster.login("del", "del@example.com").await;
    assert_eq!(
        cluster
            .get(APP, "/", &[("cookie", &del.cookie())])
            .await
            .status,
        200
    );
    cluster.delete_session(&del).await;
    wait_refused(&cluster, &del, "deleted session").await;
    assert_refused(&cluster, "deleted session", &del.token).await;

    // Signed out through the route host's own sign-out (CSRF token, same-origin POST):
    // replaying the cookie afterwards is refused.
    let bob = cluster.login("bob", "bob@example.com").await;
    assert_eq!(
        cluster
            .get(APP, "/", &[("cookie", &bob.cookie())])
            .await
            .status,
        200
    );
    let page = cluster
        .get(APP, "/.portcullis/sign_out", &[("cookie", &bob.cookie())])
        .await;
    assert_eq!(page.status, 200);
    let text = page.text();
    let csrf = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-out form carries a CSRF token")
        .to_owned();
    let form = format!("csrf={csrf}&redirect_uri=");
    let request = format!(
        "POST /.portcullis/sign_out HTTP/1.1\r\nhost: {APP}\r\norigin: http://{APP}\r\n\
         cookie: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{form}",
        bob.cookie(),
        form.len()
    );
    let signed_out = support::raw(cluster.proxy, request.as_bytes()).await;
    assert_eq!(signed_out.status, 302, "{}", signed_out.text());
    assert!(
        signed_out
            .all("set-cookie")
            .iter()
            .any(|c| c.starts_with("_portcullis=;") && c.contains("Max-Age=0")),
        "the cookie is cleared: {:?}",
        signed_out.all("set-cookie")
    );
    wait_refused(&cluster, &bob, "replay after sign-out").await;
    assert_refused(&cluster, "replay after sign-out", &bob.token).await;
}

/// Waits (5 s at most) until `login`'s cookie is refused.
async fn wait_refused(cluster: &Cluster, login: &Login, case: &str) {
    portcullis_testing::wait::until_async(Duration::from_secs(5), case, || async {
        let reply = cluster.get(APP, "/", &[("cookie", &login.cookie())]).await;
        (reply.status == 401).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}
