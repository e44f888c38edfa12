//! Attack suite: JWTs where portcullis takes a credential from a client (SECURITY.md, "What
//! is tested"). Programmatic bearers (`Authorization: Bearer Portcullis-…`,
//! `X-Portcullis-Authorization`) are sealed session handles, never JWTs: a JWT of any shape —
//! `alg: none`, HS256 keyed with the JWKS public key, a wrong `kid`, expired, the wrong `aud`,
//! or the cluster's own identity JWT replayed — is `401` and reaches nothing. ID tokens from
//! the IdP are verified by authenticate: a hostile IdP answers the code exchange with `alg:
//! none`, HS256 keyed with its own public key, an unknown `kid`, a foreign key under the right
//! `kid`, expired, wrong `aud`, wrong `iss`, wrong nonce — no session results. Service tokens
//! between roles get the same treatment in attack_grpc.rs; identity JWTs forged towards
//! upstreams are stripped (proxy_forwarding.rs) and verified by pyjwt (authorize_jwt.rs).

#[path = "attack/support.rs"]
mod support;

#[path = "attack/hostile_idp.rs"]
mod hostile_idp;

use std::time::{Duration, SystemTime};

use hostile_idp::{HostileIdp, PublicBytes as _, es256, jwk, p256};
use portcullis_grpc::Sealer;
use serde_json::json;
use support::{APP, AUTHENTICATE, Cluster, Options, PUBLIC, b64, jwt, now};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_that_do_not_verify_create_no_session() {
    let idp = HostileIdp::start().await;
    let cluster = Cluster::start_with(Options {
        idp: Some(idp.issuer.clone()),
        ..Options::default()
    })
    .await;
    let nonce = "the-nonce-of-this-login";
    let claims = |changes: &[(&str, serde_json::Value)]| {
        let mut claims = json!({
            "iss": idp.issuer, "aud": "portcullis", "sub": "alice",
            "email": "alice@example.com", "iat": now(), "exp": now() + 300, "nonce": nonce,
        });
        for (k, v) in changes {
            claims[*k] = v.clone();
        }
        claims
    };
    let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
    let public_jwk = jwk(&idp.key, "k1").to_string();
    let public_point = idp.key.public_key_bytes();
    let other = p256();
    let cases = [
        (
            "alg none",
            jwt(&json!({"alg": "none", "kid": "k1"}), &claims(&[]), None),
        ),
        (
            "HS256 keyed with the IdP's JWK",
            jwt(
                &json!({"alg": "HS256", "kid": "k1"}),
                &claims(&[]),
                Some(public_jwk.as_bytes()),
            ),
        ),
        (
            "HS256 keyed with the IdP's public point",
            jwt(
                &json!({"alg": "HS256", "kid": "k1"}),
                &claims(&[]),
                Some(&public_point),
            ),
        ),
        (
            "unknown kid",
            es256(&other, &json!({"alg": "ES256", "kid": "k2"}), &claims(&[])),
        ),
        (
            "a foreign key under the right kid",
            es256(&other, &header, &claims(&[])),
        ),
        (
            "expired",
            es256(&idp.key, &header, &claims(&[("exp", json!(now() - 600))])),
        ),
        (
            "wrong aud",
            es256(
                &idp.key,
                &header,
                &claims(&[("aud", json!("someone-else"))]),
            ),
        ),
        (
            "wrong iss",
            es256(
                &idp.key,
                &header,
                &claims(&[("iss", json!("http://evil.example.net"))]),
            ),
        ),
        (
            "wrong nonce",
            es256(&idp.key, &header, &claims(&[("nonce", json!("other"))])),
        ),
        ("no signature", {
            let t = es256(&idp.key, &header, &claims(&[]));
            format!("{}.", t.rsplit_once('.').unwrap().0)
        }),
    ];
    for (case, token) in cases {
        let code = idp.queue(token);
        let reply = callback(&cluster, code, nonce).await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.text());
        assert!(
            reply
                .all("set-cookie")
                .iter()
                .all(|c| !c.starts_with("_portcullis=")),
            "{case}: a session cookie was set"
        );
        assert_eq!(reply.header("location"), None, "{case}");
    }
    // The control: the genuine token signs in and hands off to the app host.
    let code = idp.queue(es256(&idp.key, &header, &claims(&[])));
    let reply = callback(&cluster, code, nonce).await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    assert!(
        reply
            .header("location")
            .is_some_and(|l| l.starts_with(&format!("http://{APP}/.portcullis/callback?"))),
        "{:?}",
        reply.header("location")
    );
}

/// The IdP's redirect back to authenticate with `code`, carrying a login state sealed the
/// way authenticate seals it (the test holds `cookie_secret`) and its CSRF cookie.
async fn callback(cluster: &Cluster, code: usize, nonce: &str) -> support::Raw {
    let csrf = b64(&[5u8; 32]);
    let state = json!({
        "csrf": csrf,
        "nonce": nonce,
        "pkce_verifier": b64(&[9u8; 32]),
        "redirect_uri": format!("http://{APP}/"),
        "programmatic": false,
    });
    let state = Sealer::new(&support::COOKIE_SECRET, "oidc-state").seal_until(
        state.to_string().as_bytes(),
        SystemTime::now(),
        Duration::from_secs(600),
    );
    let cookie = format!("{}={csrf}", portcullis_authenticate::CSRF_COOKIE);
    let path = format!("/oauth2/callback?code={code}&state={state}");
    cluster
        .get(
            AUTHENTICATE,
            &path,
            &[("cookie", &cookie), ("accept", "text/html")],
        )
        .await
}
