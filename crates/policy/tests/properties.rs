//! Properties of evaluation, checked with proptest over generated policies and inputs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use portcullis_policy::{Input, OwnedCertificate, OwnedInput, OwnedRequest, OwnedUser, Policy};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

// === generated criteria ===

fn string_matcher() -> impl Strategy<Value = Value> {
    let word = prop::sample::select(vec![
        "ann@example.com",
        "ANN@example.com",
        "example.com",
        "ann",
        "@example.com",
        "u-1",
        "GET",
        "/admin",
        "",
    ]);
    let op = prop::sample::select(vec![
        "is",
        "not",
        "contains",
        "starts_with",
        "ends_with",
        "in",
        "not_in",
        "bare",
    ]);
    (op, word.clone(), word).prop_map(|(op, a, b)| match op {
        "bare" => json!(a),
        "in" | "not_in" => json!({ op: [a, b] }),
        _ => json!({ op: a, "not": b }),
    })
}

fn list_matcher() -> impl Strategy<Value = Value> {
    let word = prop::sample::select(vec!["admin", "dev", "ops", "42", "true"]);
    let op = prop::sample::select(vec!["has", "is", "exclude", "bare", "any"]);
    (op, word.clone(), word).prop_map(|(op, a, b)| match op {
        "bare" => json!(a),
        "any" => json!([a, b]),
        "is" | "exclude" => json!({ op: [a, b] }),
        _ => json!({ op: a }),
    })
}

fn criterion() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "accept",
            "reject",
            "authenticated_user",
            "cors_preflight"
        ])
        .prop_map(|name| json!({ name: true })),
        (
            prop::sample::select(vec!["email", "domain", "user", "http_method", "http_path"]),
            string_matcher()
        )
            .prop_map(|(name, m)| json!({ name: m })),
        (
            prop::sample::select(vec![
                "groups",
                "claim/groups",
                "claim/org/team",
                "claim/level"
            ]),
            list_matcher()
        )
            .prop_map(|(name, m)| json!({ name: m })),
        prop::sample::select(vec!["10.0.0.0/8", "192.168.1.1", "::1", "2001:db8::/32"])
            .prop_map(|ip| json!({ "source_ip": ip })),
        prop::sample::select(vec![
            json!({"date": {"after": "2020-01-01T00:00:00Z"}}),
            json!({"date": {"before": "2024-06-01T00:00:00Z"}}),
            json!({"day_of_week": "mon-fri"}),
            json!({"day_of_week": {"days": "sat,sun", "timezone": "Asia/Tokyo"}}),
            json!({"time_of_day": {"timezone": "Europe/Paris", "after": "09:00", "before": "17:00"}}),
            json!({"time_of_day": {"timezone": "UTC", "after": "22:00", "before": "6AM"}}),
            json!({"client_certificate": {"san_dns": {"ends_with": ".internal"}}}),
        ]),
    ]
}

fn rule() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["allow", "deny"]),
        prop::sample::select(vec!["and", "or", "not", "nor"]),
        prop::collection::vec(criterion(), 1..4),
    )
        .prop_map(|(action, op, criteria)| json!({ action: { op: criteria } }))
}

fn policy(rules: &[Value]) -> Policy {
    let text = Value::Array(rules.to_vec()).to_string();
    Policy::parse(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

// === generated inputs ===

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "ann@example.com",
            "Ann@Example.COM",
            "bob@example.org",
            "u-1",
            "GET",
            "OPTIONS",
            "/admin",
            "admin",
            "42",
            "",
            "@",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let value = prop_oneof![
        text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        prop::collection::vec(text(), 0..3).prop_map(Value::from),
        text().prop_map(|t| json!({"team": t})),
    ];
    prop::collection::btree_map(
        prop::sample::select(vec!["groups", "org", "level", "x"]).prop_map(str::to_owned),
        value,
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn owned() -> impl Strategy<Value = OwnedInput> {
    let user = prop::option::of(
        (
            text(),
            prop::option::of(text()),
            prop::collection::vec(text(), 0..3),
            claims(),
        )
            .prop_map(|(id, email, groups, claims)| OwnedUser {
                id,
                email,
                groups,
                claims,
            }),
    );
    let ip = prop::option::of(prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
        Just("10.1.2.3".parse().unwrap()),
    ]);
    // Any instant SystemTime can hold, far past and far future included.
    let now = prop_oneof![
        (1_500_000_000i64..2_000_000_000),
        any::<i64>().prop_map(|s| s / 4),
    ]
    .prop_map(|secs| {
        let magnitude = Duration::from_secs(secs.unsigned_abs());
        let t = if secs >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        };
        t.unwrap_or(UNIX_EPOCH)
    });
    let sans = prop::option::of(prop::collection::vec(text(), 0..2));
    (user, text(), text(), ip, any::<bool>(), sans, now).prop_map(
        |(user, method, path, ip, preflight, sans, now)| {
            let headers = if preflight {
                [("Origin", "x"), ("Access-Control-Request-Method", "y")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .into()
            } else {
                BTreeMap::new()
            };
            OwnedInput {
                user,
                request: OwnedRequest {
                    method,
                    path,
                    ip,
                    headers,
                    client_certificate: sans.map(|san_dns| OwnedCertificate {
                        san_dns,
                        ..OwnedCertificate::default()
                    }),
                },
                time: Some(now),
            }
        },
    )
}

fn holds(criterion: &Value, input: &Input<'_>) -> bool {
    policy(&[json!({"allow": {"or": [criterion]}})])
        .evaluate(input)
        .allow
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn not_is_neither(a in criterion(), b in criterion(), input in owned()) {
        let input = input.input(UNIX_EPOCH);
        let not = policy(&[json!({"allow": {"not": [a, b]}})]).evaluate(&input).allow;
        prop_assert_eq!(not, !holds(&a, &input) && !holds(&b, &input));
    }

    #[test]
    fn nor_is_not_both(a in criterion(), b in criterion(), input in owned()) {
        let input = input.input(UNIX_EPOCH);
        let nor = policy(&[json!({"allow": {"nor": [a, b]}})]).evaluate(&input).allow;
        prop_assert_eq!(nor, !holds(&a, &input) || !holds(&b, &input));
    }

    #[test]
    fn adding_a_deny_never_allows_more(
        rules in prop::collection::vec(rule(), 0..5),
        deny in prop::collection::vec(criterion(), 1..3),
        op in prop::sample::select(vec!["and", "or", "not", "nor"]),
        input in owned(),
    ) {
        let input = input.input(UNIX_EPOCH);
        let before = policy(&rules).evaluate(&input);
        let mut more = rules;
        more.push(json!({"deny": { op: deny }}));
        let after = policy(&more).evaluate(&input);
        prop_assert!(!after.allow || before.allow);
        if before.deny_matched {
            prop_assert!(after.deny_matched);
        }
    }

    #[test]
    fn evaluation_never_panics_and_is_consistent(
        rules in prop::collection::vec(rule(), 0..6),
        input in owned(),
    ) {
        let input = input.input(UNIX_EPOCH);
        let decision = policy(&rules).evaluate(&input);
        prop_assert!(!(decision.allow && decision.deny_matched));
        prop_assert!(!(decision.allow && decision.requires_login));
        if decision.requires_login {
            prop_assert!(input.user.is_none());
        }
    }
}

// === arbitrary documents ===

fn document() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "allow",
            "deny",
            "and",
            "or",
            "not",
            "nor",
            "email",
            "domain",
            "claim/a/b",
            "groups",
            "source_ip",
            "date",
            "day_of_week",
            "time_of_day",
            "timezone",
            "after",
            "before",
            "is",
            "in",
            "has",
            "exclude",
            "client_certificate",
            "fingerprint",
            "spki_hash",
            "san_dns",
            "days",
            "accept",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
        prop::sample::select(vec![
            "mon-fri",
            "09:00",
            "3PM",
            "UTC",
            "10.0.0.0/8",
            "2024-01-01"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Whatever is written, compiling reports errors or yields a policy that evaluates.
    #[test]
    fn compiling_anything_never_panics(doc in document(), input in owned()) {
        match Policy::parse(&doc.to_string()) {
            Ok(policy) => {
                let _ = policy.evaluate(&input.input(UNIX_EPOCH));
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }
}
