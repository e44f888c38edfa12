//! The proxy's routing against real hyper upstreams on 127.0.0.1:0, with the real authorize
//! engine over a memory databroker: match kinds and their precedence, wildcard hosts,
//! rewrites and the upstream `Host`, path normalization against a denying policy, reload.

#[path = "proxy/support.rs"]
mod support;
#[path = "proxy/upstreams.rs"]
mod upstreams;

use http::StatusCode;
use support::{Harness, public, route};
use upstreams::Upstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_match_kind_in_config_order_and_exact_hosts_before_wildcards() {
    let names = [
        "exact", "prefix", "regex", "shadowed", "wild", "other", "fallback",
    ];
    let mut ups = Vec::new();
    for n in names {
        ups.push(Upstream::http(n).await);
    }
    let to = |i: usize| ups[i].url();
    let routes = [
        // A wildcard route first in the file still loses to exact hosts.
        public("wild", "https://*.example.com", &to(4), ""),
        public("exact", "https://app.example.com", &to(0), "path: /exact"),
        public("prefix", "https://app.example.com", &to(1), "prefix: /api"),
        public(
            "regex",
            "https://app.example.com",
            &to(2),
            "regex: '/items/[0-9]+'",
        ),
        public(
            "shadowed",
            "https://app.example.com",
            &to(3),
            "prefix: /api/v2",
        ),
        public("other", "https://other.example.com", &to(5), ""),
        public("fallback", "https://app.example.com", &to(6), ""),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;
    let who = |host: &'static str, path: &'static str| {
        let proxy = &proxy;
        async move {
            let reply = proxy.get(host, path, &[]).await;
            if reply.status == StatusCode::OK {
                reply.upstream()
            } else {
                reply.status.to_string()
            }
        }
    };
    assert_eq!(who("app.example.com", "/exact").await, "exact");
    assert_eq!(
        who("app.example.com", "/exact/more").await,
        "fallback",
        "path is exact"
    );
    assert_eq!(who("app.example.com", "/api").await, "prefix");
    assert_eq!(
        who("app.example.com", "/api/v2/x").await,
        "prefix",
        "config order"
    );
    assert_eq!(who("app.example.com", "/items/42").await, "regex");
    assert_eq!(
        who("app.example.com", "/items/42/x").await,
        "fallback",
        "whole-path regex"
    );
    assert_eq!(who("app.example.com", "/").await, "fallback");
    assert_eq!(
        who("other.example.com", "/").await,
        "other",
        "exact beats wildcard"
    );
    assert_eq!(who("x.example.com", "/").await, "wild");
    assert_eq!(
        who("X.Example.COM", "/").await,
        "wild",
        "hosts are case-insensitive"
    );
    assert_eq!(
        who("a.b.example.com", "/").await,
        "404 Not Found",
        "* is one label"
    );
    assert_eq!(who("example.com", "/").await, "404 Not Found");
    assert_eq!(
        who("app.example.com:8443", "/").await,
        "404 Not Found",
        "port must match"
    );
    assert_eq!(who("app.example.com:443", "/exact").await, "exact");
    for u in &ups[3..4] {
        assert!(u.seen().is_empty(), "the shadowed route is never used");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrites_and_the_upstream_host() {
    let up = Upstream::http("up").await;
    let u = up.url();
    let routes = [
        public("p", "https://app.example.com", &u, "prefix: /api/, prefix_rewrite: /v1/"),
        public(
            "r",
            "https://app.example.com",
            &u,
            "prefix: /svc/, regex_rewrite_pattern: '^/svc/([^/]+)/(.*)$', regex_rewrite_substitution: '/$2/of/$1'",
        ),
        public("base", "https://base.example.com", &format!("{u}/mount/"), ""),
        public("keep", "https://keep.example.com", &u, "preserve_host_header: true"),
        public("rw", "https://rw.example.com", &u, "host_rewrite: internal.test"),
        public("plain", "https://plain.example.com", &u, ""),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;
    let seen = |host: &'static str, path: &'static str| {
        let proxy = &proxy;
        async move { proxy.get(host, path, &[]).await }
    };
    assert_eq!(
        seen("app.example.com", "/api/users?a=1").await.seen_uri(),
        "/v1/users?a=1"
    );
    assert_eq!(
        seen("app.example.com", "/svc/foo/bar/baz").await.seen_uri(),
        "/bar/baz/of/foo"
    );
    assert_eq!(
        seen("base.example.com", "/x/y").await.seen_uri(),
        "/mount/x/y"
    );
    let keep = seen("keep.example.com", "/").await;
    assert_eq!(
        keep.seen_header("host").as_deref(),
        Some("keep.example.com")
    );
    let rw = seen("rw.example.com", "/").await;
    assert_eq!(rw.seen_header("host").as_deref(), Some("internal.test"));
    let plain = seen("plain.example.com", "/").await;
    assert_eq!(
        plain.seen_header("host"),
        Some(up.addr.to_string()),
        "default: the upstream's host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_never_reach_what_policy_denies_for_admin() {
    let admin = Upstream::http("admin").await;
    let public_up = Upstream::http("public").await;
    let routes = [
        route(
            "admin",
            "https://app.example.com",
            &admin.url(),
            "prefix: /admin, allowed_users: [root@example.com]",
        ),
        route(
            "rest",
            "https://app.example.com",
            &public_up.url(),
            "allow_any_authenticated_user: true",
        ),
    ]
    .concat();
    let proxy = Harness::start(&routes).await;
    let alice = proxy.login("alice", "alice@example.com", &[]).await;
    let cookie = alice.cookie();
    for trick in [
        "/admin",
        "/admin/users",
        "/a/../admin",
        "//admin",
        "/%2e%2e/admin",
        "/%2E%2E/admin",
        "/admin%2f",
        "/admin%2F..%2Fadmin",
        "/./admin",
        "/x/..%2fadmin",
        "/x/..%5cadmin",
        "/%61dmin",
        "/.%2e/admin",
        "///admin//x",
    ] {
        let reply = proxy
            .get("app.example.com", trick, &[("cookie", &cookie)])
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{trick}: {}",
            reply.text()
        );
    }
    assert!(admin.seen().is_empty(), "the admin upstream saw nothing");
    assert!(
        public_up.seen().iter().all(|s| !s.uri.contains("admin")),
        "nor did the other upstream"
    );
    let ok = proxy
        .get(
            "app.example.com",
            "/a/./b/../c//d%2e?q=%2e%2e",
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.seen_uri(),
        "/a/c/d.?q=%2e%2e",
        "the upstream sees the normalized path"
    );
    let bad = proxy
        .get("app.example.com", "/a%zz", &[("cookie", &cookie)])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_the_routes_at_once() {
    let old = Upstream::http("old").await;
    let new = Upstream::http("new").await;
    let proxy = Harness::start(&public("r", "https://app.example.com", &old.url(), "")).await;
    assert_eq!(
        proxy.get("app.example.com", "/", &[]).await.upstream(),
        "old"
    );
    // (The authorize engine keeps its own copy of the routes: the route id stays the same.)
    let routes = public("r", "https://app.example.com", &new.url(), "");
    proxy
        .proxy
        .reload(&support::config("insecure_server: true\n", &routes))
        .expect("a valid configuration reloads");
    assert_eq!(
        proxy.get("app.example.com", "/", &[]).await.upstream(),
        "new"
    );
    // An unusable configuration changes nothing.
    let broken = public(
        "r",
        "https://app.example.com",
        "https://127.0.0.1:1",
        "tls_server_name: 'not a name'",
    );
    assert!(
        proxy
            .proxy
            .reload(&support::config("insecure_server: true\n", &broken))
            .is_err()
    );
    assert_eq!(
        proxy.get("app.example.com", "/", &[]).await.upstream(),
        "new"
    );
}
