//! The demo upstream shows the identity it was sent, and escapes it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::json as body_json;

/// Serves the demo upstream on 127.0.0.1:0; returns its base URL.
async fn start_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = portcullis_dev::demo_upstream();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// An (unsigned-looking) JWT with `claims`; the upstream only decodes.
fn jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "k1"}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

#[tokio::test]
async fn the_page_shows_the_email_from_the_jwt_and_the_identity_headers() {
    let base = start_upstream().await;
    let token = jwt(&json!({"email": "alice@example.com", "groups": ["admins"], "sub": "u1"}));
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{base}/some/path?q=1"))
        .header("X-Portcullis-Jwt-Assertion", &token)
        .header("X-Portcullis-Claim-Groups", "admins")
        .header("Cookie", "not-shown=1")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<p class=\"email\" id=\"email\">alice@example.com</p>"),
        "{html}"
    );
    assert!(html.contains("x-portcullis-claim-groups"));
    assert!(html.contains("NOT verified"));
    assert!(html.contains("/some/path?q=1"));
    assert!(
        !html.contains("not-shown"),
        "only identity headers are shown"
    );

    let body = body_json(
        http.get(format!("{base}/"))
            .header("X-Portcullis-Jwt-Assertion", &token)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["jwt"]["verified"], false);
    assert_eq!(body["jwt"]["header"]["kid"], "k1");
    assert_eq!(body["jwt"]["claims"]["groups"], json!(["admins"]));
    assert_eq!(
        body["identity_headers"]["x-portcullis-jwt-assertion"],
        token
    );
}

#[tokio::test]
async fn everything_from_the_request_is_escaped() {
    let base = start_upstream().await;
    let evil = "<script>alert(1)</script>";
    let token = jwt(&json!({"email": format!("\"{evil}\"@example.com"), "name": evil}));
    let html = reqwest::Client::new()
        .get(format!("{base}/"))
        .header("X-Portcullis-Jwt-Assertion", &token)
        .header("X-Portcullis-Claim-Name", evil)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;@example.com"));
}

#[tokio::test]
async fn without_identity_the_page_says_so_and_a_broken_jwt_is_explained() {
    let base = start_upstream().await;
    let http = reqwest::Client::new();
    let html = http.get(&base).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("No identity"));
    let body = body_json(
        http.get(&base)
            .header("X-Portcullis-Jwt-Assertion", "not-a-jwt")
            .header("X-Portcullis-Claim-Email", "bob@example.com")
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["email"], "bob@example.com",
        "the claim header is the fallback"
    );
    assert!(body["jwt"]["error"].as_str().unwrap().contains("three"));
}
