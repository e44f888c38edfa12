//! Forward-auth with a real nginx (Debian's, `auth_request` module) in front of an upstream,
//! asking the portcullis proxy's `/.portcullis/verify`: allowed requests reach the upstream
//! with the identity headers nginx copied from the verify answer (and never the client's
//! forged ones), unauthenticated browsers are redirected to the signed sign-in URL, API
//! clients get `401`, forbidden users `403`, and the login callback passes through nginx.
//!
//! nginx runs as a child process (`daemon off; master_process off;`) with a generated
//! configuration in a temporary directory, and is killed when the test ends.

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use http::{Request, StatusCode};
use portcullis_grpc::{Handoff, HandoffCodec, UrlSigner};
use support::{BROWSER, Harness, Reply, SHARED_SECRET, full, read, route};
use upstreams::Upstream;
use url::Url;

/// nginx with the forward-auth configuration of the README; killed on drop.
struct Nginx(portcullis_testing::nginx::Nginx);

impl Nginx {
    async fn start(proxy: SocketAddr, upstream: SocketAddr) -> Nginx {
        let nginx = portcullis_testing::nginx::Nginx::start(|dir, listen| {
            config(dir, listen, proxy, upstream)
        })
        .await
        .expect("nginx starts");
        Nginx(nginx)
    }

    async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request =
            Request::get(format!("http://{}{path}", self.0.addr())).header("host", host);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = support::client()
            .request(request.body(full("")).unwrap())
            .await
            .expect("nginx answers");
        read(response).await
    }
}

/// The nginx configuration users write (see README "Forward-auth with nginx"), with the
/// test's paths and ports.
fn config(dir: &Path, listen: SocketAddr, portcullis: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;

  upstream portcullis {{ server {portcullis}; }}

  server {{
    listen {listen};

    location / {{
      auth_request /.portcullis/verify;
      auth_request_set $portcullis_jwt $upstream_http_x_portcullis_jwt_assertion;
      auth_request_set $portcullis_email $upstream_http_x_email;
      auth_request_set $portcullis_location $upstream_http_location;
      error_page 401 = @portcullis_sign_in;

      proxy_set_header X-Portcullis-Jwt-Assertion $portcullis_jwt;
      proxy_set_header X-Email $portcullis_email;
      proxy_set_header Host $host;
      proxy_pass http://{upstream};
    }}

    location = /.portcullis/verify {{
      internal;
      proxy_pass http://portcullis;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}

    location @portcullis_sign_in {{
      if ($portcullis_location = "") {{ return 401; }}
      return 302 $portcullis_location;
    }}

    location /.portcullis/ {{
      proxy_pass http://portcullis;
      proxy_set_header Host $host;
    }}
  }}
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_allows_redirects_and_forbids_as_nginx_users_expect() {
    let up = Upstream::http("behind-nginx").await;
    let routes = [
        route(
            "app",
            "https://app.example.com",
            "http://127.0.0.1:9",
            "allowed_domains: [example.com]",
        ),
        route(
            "admin",
            "https://admin.example.com",
            "http://127.0.0.1:9",
            "allowed_users: [root@example.com]",
        ),
    ]
    .concat();
    let proxy = Harness::start_with(
        "insecure_server: true\nforward_auth_trusted_addresses: [127.0.0.0/8]\n",
        &routes,
    )
    .await;
    let nginx = Nginx::start(proxy.addr, up.addr).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;

    // Allowed: the upstream gets nginx's copy of the identity, not what the client forged.
    let reply = nginx
        .get(
            "app.example.com",
            "/dash?x=1",
            &[
                ("cookie", &alice.cookie()),
                ("x-portcullis-jwt-assertion", "forged"),
                ("x-email", "boss@example.com"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.upstream(), "behind-nginx");
    assert_eq!(reply.seen_uri(), "/dash?x=1");
    let jwt = reply.seen_header("x-portcullis-jwt-assertion").unwrap();
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    assert_eq!(
        reply.seen_header("x-email").as_deref(),
        Some("alice@example.com")
    );

    // Not signed in: browsers are sent to sign in, API clients get 401.
    let browser = nginx.get("app.example.com", "/dash?x=1", &[BROWSER]).await;
    assert_eq!(browser.status, StatusCode::FOUND, "{}", browser.text());
    let location = Url::parse(browser.header("location").unwrap()).unwrap();
    let clean = UrlSigner::new(&SHARED_SECRET)
        .verify(&location, SystemTime::now())
        .expect("the signed sign-in URL");
    assert_eq!(clean.path(), "/.portcullis/sign_in");
    let redirect_uri = clean
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        redirect_uri.as_deref(),
        Some("http://app.example.com/dash?x=1")
    );
    let api = nginx.get("app.example.com", "/dash", &[]).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);

    // Signed in but not allowed: 403.
    let forbidden = nginx
        .get("admin.example.com", "/", &[("cookie", &alice.cookie())])
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // The login callback passes through nginx to portcullis, which sets the cookie.
    // The route is `https://` (a TLS terminator in front of nginx); the handoff names the
    // route's own origin, as authenticate makes it.
    let handoff = Handoff {
        token: alice.token.clone(),
        redirect_uri: Url::parse("https://app.example.com/dash").unwrap(),
    };
    let callback = HandoffCodec::new(&SHARED_SECRET).callback_url(&handoff, SystemTime::now());
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let reply = nginx.get("app.example.com", &path, &[BROWSER]).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert_eq!(
        reply.header("location"),
        Some("https://app.example.com/dash")
    );
    assert!(reply.set_cookies()[0].starts_with(&format!("_portcullis={}", alice.token)));

    assert!(
        up.seen()
            .iter()
            .all(|s| s.headers.iter().all(|(_, v)| v != "forged")),
        "no forged identity ever reached the upstream"
    );
    assert_eq!(
        up.seen().len(),
        1,
        "only the allowed request reached the upstream"
    );
}
