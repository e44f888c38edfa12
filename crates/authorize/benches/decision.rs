//! The in-process authorize decision, the proxy's hot path in all-in-one mode: 1,000 routes,
//! 100,000 sessions (and users) in the local replica, identity JWTs cached. Baselines measured
//! in the same run: the bare `Policy::evaluate` of the same route, and one replica read.
//! Results are recorded in `benches/README.md` ("Authorize").
//!
//! `BENCH_SESSIONS=n` and `BENCH_ROUTES=n` scale the data set.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use portcullis_authorize::Engine;
use portcullis_databroker::{Data, RecordWrite, Storage, StorageOptions};
use portcullis_grpc::{SessionHandle, SessionHandleCodec};
use portcullis_policy::{Input, Request, User};
use portcullis_proto::{AuthorizeDecision, AuthorizeRequest, OAuthToken, SecretString, Session};
use serde_json::json;

const SHARED_SECRET_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
const COOKIE_SECRET: [u8; 32] = [7; 32];
const COOKIE_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// Distinct (session, route) pairs the measured loop cycles through.
const HOT: usize = 1_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(routes: usize) -> portcullis_config::Config {
    let mut yaml = format!(
        "services: authorize\ngrpc_address: 127.0.0.1:0\nshared_secret: {SHARED_SECRET_B64}\n\
         cookie_secret: {COOKIE_SECRET_B64}\nauthenticate_service_url: https://auth.example.com\n\
         databroker_service_url: http://127.0.0.1:9\nroutes:\n"
    );
    for i in 0..routes {
        yaml.push_str(&format!(
            "  - id: r{i}\n    from: https://app{i}.example.com\n    to: http://127.0.0.1:9\n\
             \x20   policy:\n      - allow:\n          and:\n            - domain: {{is: example.com}}\n\
             \x20           - http_method: {{in: [GET, POST]}}\n"
        ));
    }
    portcullis_config::Config::from_sources(&yaml, "bench.yaml", &BTreeMap::new()).unwrap()
}

/// Writes `n` users and sessions (with realistic token sizes); returns the latest version.
async fn write_sessions(storage: &dyn Storage, n: usize) -> u64 {
    let now = SystemTime::now();
    let mut latest = 0;
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(2_000) {
        let mut writes = Vec::with_capacity(chunk.len() * 2);
        for &i in chunk {
            let user = portcullis_proto::User {
                id: format!("user-{i}"),
                email: format!("user{i}@example.com"),
                name: format!("User {i}"),
                groups: vec!["staff".into(), format!("team-{}", i % 50)],
                claims: serde_json::Map::new(),
            };
            let session = Session {
                id: format!("session-{i}"),
                user_id: user.id.clone(),
                issued_at: now,
                expires_at: now + Duration::from_secs(3600),
                refreshed_at: None,
                claims: json!({"email": user.email, "email_verified": true, "iss": "https://idp"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                oauth_token: Some(OAuthToken {
                    access_token: SecretString::new("a".repeat(600)),
                    refresh_token: SecretString::new("r".repeat(100)),
                    token_type: "Bearer".into(),
                    expires_at: Some(now + Duration::from_secs(3600)),
                }),
                id_token: SecretString::new("i".repeat(800)),
            };
            let data = |type_url: &str, value| Data {
                type_url: type_url.to_owned(),
                value,
            };
            writes.push(RecordWrite::put(
                portcullis_proto::User::TYPE,
                &user.id,
                data(portcullis_proto::User::TYPE_URL, user.encode()),
            ));
            writes.push(RecordWrite::put(
                Session::TYPE,
                &session.id,
                data(Session::TYPE_URL, session.encode()),
            ));
        }
        let written = storage.put(writes).await.unwrap();
        latest = written.last().map_or(latest, |r| r.version);
    }
    latest
}

fn bench(c: &mut Criterion) {
    let (routes, sessions) = (env("BENCH_ROUTES", 1_000), env("BENCH_SESSIONS", 100_000));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = config(routes);
    let (engine, storage) = runtime.block_on(async {
        let storage = portcullis_databroker::open_storage(&StorageOptions::Memory)
            .await
            .unwrap();
        let latest = write_sessions(&*storage, sessions).await;
        let engine = Engine::new(&config, Arc::clone(&storage)).unwrap();
        tokio::time::timeout(Duration::from_secs(60), engine.replica().wait_for(latest))
            .await
            .expect("the replica syncs");
        (engine, storage)
    });
    assert_eq!(engine.route_count(), routes);
    assert_eq!(engine.replica().len(Session::TYPE), sessions);

    // HOT requests spread over the routes and the sessions.
    let codec = SessionHandleCodec::new(&COOKIE_SECRET);
    let requests: Vec<AuthorizeRequest> = (0..HOT)
        .map(|k| {
            let (s, r) = ((k * 97) % sessions, k % routes);
            let version = runtime
                .block_on(storage.get(Session::TYPE, &format!("session-{s}")))
                .unwrap()
                .unwrap()
                .version;
            let handle = SessionHandle {
                session_id: format!("session-{s}"),
                user_id: format!("user-{s}"),
                issued_at: SystemTime::now(),
                version,
            };
            AuthorizeRequest {
                route_id: Some(format!("r{r}")),
                request_id: format!("req-{k}"),
                method: "GET".into(),
                scheme: "https".into(),
                host: format!("app{r}.example.com"),
                path: "/dashboard".into(),
                query: "tab=1".into(),
                headers: vec![
                    ("accept".into(), "text/html,*/*;q=0.8".into()),
                    ("user-agent".into(), "bench/1.0".into()),
                    (
                        "cookie".into(),
                        format!("_portcullis={}", codec.seal(&handle)),
                    ),
                ],
                client_address: Some("10.1.2.3".parse().unwrap()),
                client_certificate: None,
            }
        })
        .collect();
    // Warm: every pair signs its JWT once and decodes its identity once.
    for request in &requests {
        let decision = engine
            .decide(request)
            .now_or_never()
            .expect("the hot path never waits");
        assert!(
            matches!(decision, AuthorizeDecision::Allow(_)),
            "{decision:?}"
        );
    }

    let mut group = c.benchmark_group("authorize");
    let mut i = 0;
    group.bench_function("decision (1k routes, 100k sessions, JWT cached)", |b| {
        b.iter(|| {
            i = (i + 1) % HOT;
            let decision = engine.decide(black_box(&requests[i])).now_or_never();
            black_box(decision)
        })
    });

    let anonymous: Vec<AuthorizeRequest> = requests
        .iter()
        .map(|r| AuthorizeRequest {
            headers: r.headers[..2].to_vec(),
            ..r.clone()
        })
        .collect();
    group.bench_function("decision, anonymous → 302 to sign-in", |b| {
        b.iter(|| {
            i = (i + 1) % HOT;
            black_box(engine.decide(black_box(&anonymous[i])).now_or_never())
        })
    });

    // Baseline: the same route's policy alone, for a signed-in user.
    let policy = config.routes[0].policy.clone();
    let groups = vec!["staff".to_owned()];
    let claims = serde_json::Map::new();
    let input = Input {
        user: Some(User {
            id: "user-0",
            email: Some("user0@example.com"),
            groups: &groups,
            claims: Some(&claims),
        }),
        request: Request {
            method: "GET",
            path: "/dashboard",
            ..Request::default()
        },
        now: SystemTime::now(),
    };
    assert!(policy.evaluate(&input).allow);
    group.bench_function("baseline: Policy::evaluate alone", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&input))))
    });
    // Baseline: one replica read (what any lookup of a session costs at least).
    group.bench_function("baseline: one replica read (session record)", |b| {
        b.iter(|| {
            i = (i + 1) % HOT;
            black_box(
                engine
                    .replica()
                    .get(Session::TYPE, black_box("session-4242")),
            )
        })
    });
    group.finish();
    drop(engine);
    drop(runtime);
}

criterion_group!(benches, bench);
criterion_main!(benches);
