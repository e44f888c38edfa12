//! Attack suite: JWTs where portcullis takes a credential from a client (SECURITY.md, "What
//! is tested"). Programmatic bearers (`Authorization: Bearer Portcullis-…`,
//! `X-Portcullis-Authorization`) are sealed session handles, never JWTs: a JWT of any shape —
//! `alg: none`, HS256 keyed with the JWKS public key, a wrong `kid`, expired, the wrong `aud`,
//! or the cluster's own identity JWT replayed — is `401` and reaches nothing. Service tokens
//! between roles get the same treatment in attack_grpc.rs; identity JWTs forged towards
//! upstreams are stripped (proxy_forwarding.rs) and verified by pyjwt (authorize_jwt.rs).

#[path = "attack/support.rs"]
mod support;

use serde_json::json;
use support::{APP, Cluster, PUBLIC, jwt, now};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_of_every_shape_are_no_portcullis_credential() {
    let cluster = Cluster::start().await;
    let ann = cluster.login("ann", "ann@example.com").await;
    let reply = cluster.get(APP, "/", &[("cookie", &ann.cookie())]).await;
    assert_eq!(reply.status, 200);
    let identity = cluster
        .seen()
        .last()
        .and_then(|r| r.header("x-portcullis-jwt-assertion").map(str::to_owned))
        .expect("an identity JWT");
    let header: serde_json::Value = {
        use base64::Engine as _;
        let part = identity.split('.').next().unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let kid = header["kid"].as_str().unwrap().to_owned();
    let jwks = cluster
        .get(PUBLIC, "/.well-known/portcullis/jwks.json", &[])
        .await
        .text();
    let jwks = jwks.split("\r\n\r\n").nth(1).unwrap().to_owned();

    let claims = |exp: u64, aud: &str| {
        json!({"iss": "portcullis", "aud": aud, "sub": "user-root", "email": "root@example.com",
               "iat": now(), "exp": exp, "sid": "session-ann"})
    };
    let live = claims(now() + 300, APP);
    let cases = [
        ("identity JWT replayed", identity.clone()),
        (
            "alg none",
            jwt(&json!({"alg": "none", "kid": kid}), &live, None),
        ),
        (
            "HS256 keyed with the JWKS",
            jwt(
                &json!({"alg": "HS256", "kid": kid}),
                &live,
                Some(jwks.as_bytes()),
            ),
        ),
        (
            "wrong kid",
            jwt(
                &json!({"alg": "HS256", "kid": "not-a-key"}),
                &live,
                Some(&support::SHARED_SECRET),
            ),
        ),
        (
            "expired",
            jwt(
                &json!({"alg": "HS256", "kid": kid}),
                &claims(now() - 600, APP),
                Some(&support::SHARED_SECRET),
            ),
        ),
        (
            "wrong aud",
            jwt(
                &json!({"alg": "HS256", "kid": kid}),
                &claims(now() + 300, "other.example.test"),
                Some(&support::COOKIE_SECRET),
            ),
        ),
    ];
    for (case, token) in &cases {
        for (name, value) in [
            ("authorization", format!("Bearer Portcullis-{token}")),
            ("x-portcullis-authorization", token.clone()),
            ("cookie", format!("_portcullis={token}")),
        ] {
            let before = cluster.seen().len();
            let reply = cluster.get(APP, "/", &[(name, &value)]).await;
            assert_eq!(reply.status, 401, "{case} in {name}: {}", reply.text());
            cluster.assert_upstream_saw(before, &format!("{case} in {name}"));
        }
        // A plain `Authorization: Bearer <jwt>` is the upstream's business, not a
        // portcullis credential: on a protected route it does not sign anyone in either.
        let before = cluster.seen().len();
        let bearer = format!("Bearer {token}");
        let reply = cluster
            .get(APP, "/admin", &[("authorization", &bearer)])
            .await;
        assert_eq!(reply.status, 401, "{case} as a plain bearer");
        cluster.assert_upstream_saw(before, case);
    }
}
