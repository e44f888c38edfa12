//! Evaluation must not allocate: an instrumented global allocator counts every allocation
//! made while a compiled policy with every kind of criterion is evaluated.
//! (One test in this binary, so no other test thread allocates meanwhile.)

use std::alloc::System;

use portcullis_policy::{Input, OwnedInput, Policy};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const POLICY: &str = r#"
- allow:
    and:
      - authenticated_user: true
      - email: {ends_with: "@example.com", not: eve@example.com}
      - domain: {in: [example.com, example.org]}
      - user: {starts_with: u-}
      - groups: {has: eng, exclude: contractors}
      - claim/org/team: [platform, infra]
      - http_method: {in: [GET, POST]}
      - http_path: {contains: /api/}
      - source_ip: [10.0.0.0/8, "2001:db8::/32"]
      - date: {after: 2020-01-01, before: "2100-01-01T00:00:00Z"}
      - day_of_week: {days: mon-fri, timezone: Europe/Paris}
      - time_of_day: {timezone: America/New_York, after: "22:00", before: 6AM}
      - client_certificate: {san_dns: {ends_with: .internal}}
- allow:
    nor:
      - http_method: GET
      - http_path: {starts_with: /v1/}
- deny:
    not:
      - accept: true
      - email: {contains: Bob}
      - cors_preflight: true
"#;

const INPUT: &str = r#"{
  "user": {"id": "u-ann", "email": "ann@example.com", "groups": ["eng"],
           "claims": {"org": {"team": "platform"}}},
  "request": {"method": "GET", "path": "/v1/api/x", "ip": "10.1.1.1",
              "headers": {"Origin": "https://a"},
              "client_certificate": {"san_dns": ["svc.internal"]}},
  "time": "2024-05-15T03:00:00Z"
}"#;

#[test]
fn evaluation_does_not_allocate() {
    let policy = Policy::parse(POLICY).unwrap();
    let owned = OwnedInput::from_json(INPUT).unwrap();
    let signed_in: Input<'_> = owned.input(std::time::SystemTime::UNIX_EPOCH);
    let anonymous = Input {
        user: None,
        ..signed_in
    };
    // Warm up anything lazily initialised on first use (none expected, but be fair).
    let _ = policy.evaluate(&signed_in);

    let region = Region::new(GLOBAL);
    let mut allowed = 0;
    for _ in 0..100 {
        allowed += usize::from(policy.evaluate(&signed_in).allow);
        allowed += usize::from(policy.evaluate(&anonymous).allow);
    }
    let change = region.change();

    assert_eq!(change.allocations, 0, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    // The evaluations decided as designed: ann is allowed, the anonymous request is not.
    assert_eq!(allowed, 100);
}
