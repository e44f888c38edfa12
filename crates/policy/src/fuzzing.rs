//! Fuzz target body (`fuzz/fuzz_targets/policy.rs`, and the workspace smoke test over the
//! seed corpus). Not an API: arbitrary bytes must never panic the parser or the evaluator,
//! evaluation is deterministic, and a policy without `allow` never allows.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::{Input, Policy, Request, User};

/// Parses `data` as a policy; when it compiles, evaluates it for an anonymous and a signed-in
/// request.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    let groups = ["admins".to_owned(), "staff".to_owned()];
    let mut claims = Map::new();
    claims.insert("groups".into(), Value::from(vec!["admins"]));
    claims.insert("email_verified".into(), Value::Bool(true));
    let request = Request {
        method: "GET",
        path: "/admin/x",
        source_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
        origin: Some("https://app.example.com"),
        access_control_request_method: Some("GET"),
        client_certificate: None,
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut input = Input::new(request, now);
    for user in [
        None,
        Some(User {
            id: "user-1",
            email: Some("ann@example.com"),
            groups: &groups,
            claims: Some(&claims),
        }),
    ] {
        input.user = user;
        let first = policy.evaluate(&input);
        let again = policy.evaluate(&input);
        assert_eq!(first.allow, again.allow, "evaluation is deterministic");
        if policy.denies_all() {
            assert!(!first.allow, "a policy without allow allowed: {text:?}");
        }
    }
}
