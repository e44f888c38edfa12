//! The OpenID provider the login tests use starts, and serves a discovery document that
//! offers what portcullis needs (code flow, PKCE S256).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use portcullis_testing::oidc::{Client, OidcProvider};

fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().expect("status code");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_provider_serves_discovery_with_pkce() {
    let client = Client {
        id: "portcullis".into(),
        secret: "client-secret".into(),
        redirect_uris: vec!["http://127.0.0.1:1/oauth2/callback".into()],
        post_logout_redirect_uris: vec![],
    };
    let provider = OidcProvider::start(&[client], &[("alice", &["admins"])]).unwrap();
    let (status, body) = get(&format!(
        "{}/.well-known/openid-configuration",
        provider.issuer()
    ));
    assert_eq!(status, 200, "{body}");
    let discovery: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON discovery");
    assert_eq!(discovery["issuer"], provider.issuer());
    assert!(
        discovery["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "S256")
    );
    assert!(discovery["end_session_endpoint"].is_string());
}
