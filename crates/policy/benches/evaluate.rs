//! Policy evaluation, the authorize hot path: a ten-criterion policy against a trivial
//! `accept` policy measured in the same run. Results are recorded in `benches/README.md`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_policy::{Input, Policy, Request, User, parse_time};
use serde_json::json;

const TEN_CRITERIA: &str = r#"
allow:
  and:
    - authenticated_user: true
    - email: {ends_with: "@example.com"}
    - domain: {in: [example.com, example.org, example.net]}
    - groups: {has: eng, exclude: contractors}
    - claim/org/team: platform
    - http_method: {in: [GET, HEAD, POST]}
    - http_path: {starts_with: /api/}
    - source_ip: [10.0.0.0/8, 192.168.0.0/16]
    - day_of_week: mon-fri
    - time_of_day: {timezone: America/New_York, after: "08:00", before: "18:00"}
"#;

fn bench(c: &mut Criterion) {
    let ten = Policy::parse(TEN_CRITERIA).unwrap();
    let accept = Policy::parse("allow: {or: [accept: true]}").unwrap();
    let groups = vec!["everyone".to_owned(), "eng".to_owned()];
    let claims = json!({"org": {"team": "platform"}, "name": "Ann"});
    let claims = claims.as_object().unwrap();
    // A Wednesday, 10:00 in New York.
    let now: SystemTime = parse_time("2024-05-15T14:00:00Z").unwrap();
    let input = Input {
        user: Some(User {
            id: "u-ann",
            email: Some("ann@example.com"),
            groups: &groups,
            claims: Some(claims),
        }),
        request: Request {
            method: "GET",
            path: "/api/v1/things",
            source_ip: Some("10.20.30.40".parse().unwrap()),
            ..Request::default()
        },
        now,
    };
    assert!(ten.evaluate(&input).allow);
    let anonymous = Input {
        user: None,
        ..input
    };
    assert!(ten.evaluate(&anonymous).requires_login);

    let mut group = c.benchmark_group("policy_evaluate");
    group.bench_function("accept (baseline)", |b| {
        b.iter(|| accept.evaluate(black_box(&input)))
    });
    group.bench_function("ten criteria, allowed", |b| {
        b.iter(|| ten.evaluate(black_box(&input)))
    });
    group.bench_function("ten criteria, anonymous", |b| {
        b.iter(|| ten.evaluate(black_box(&anonymous)))
    });
    group.finish();

    // Where the time goes: one criterion at a time, same input.
    let mut single = c.benchmark_group("policy_one_criterion");
    single.warm_up_time(Duration::from_secs(1));
    single.measurement_time(Duration::from_secs(2));
    for criterion in [
        "email: {ends_with: '@example.com'}",
        "domain: {in: [example.com, example.org, example.net]}",
        "claim/org/team: platform",
        "source_ip: [10.0.0.0/8, 192.168.0.0/16]",
        "day_of_week: mon-fri",
        "time_of_day: {timezone: America/New_York, after: '08:00', before: '18:00'}",
    ] {
        let policy = Policy::parse(&format!("allow: {{and: [{criterion}]}}")).unwrap();
        assert!(policy.evaluate(&input).allow, "{criterion}");
        let name = criterion.split(':').next().unwrap_or_default();
        single.bench_function(name, |b| b.iter(|| policy.evaluate(black_box(&input))));
    }
    single.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
