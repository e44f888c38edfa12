use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::input::{Request, User};
use crate::legacy::LegacyRules;
use crate::reasons::Reason::*;

fn input<'a>(user: Option<User<'a>>, method: &'a str) -> Input<'a> {
    Input {
        user,
        request: Request {
            method,
            path: "/",
            ..Request::default()
        },
        now: UNIX_EPOCH + Duration::from_secs(1_704_067_200),
    }
}

fn ann() -> Option<User<'static>> {
    Some(User {
        id: "u-ann",
        email: Some("ann@example.com"),
        ..User::default()
    })
}

fn decide(policy: &str, input: &Input<'_>) -> Decision {
    Policy::parse(policy).unwrap().evaluate(input)
}

fn reasons(list: &[Reason]) -> Reasons {
    list.iter().copied().collect()
}

#[test]
fn empty_policy_denies_without_reasons() {
    for policy in [
        Policy::default(),
        Policy::parse("[]").unwrap(),
        Policy::parse("~").unwrap(),
    ] {
        let decision = policy.evaluate(&input(ann(), "GET"));
        assert!(!decision.allow && !decision.requires_login && !decision.deny_matched);
        assert!(decision.reasons.is_empty());
        assert!(policy.denies_all());
    }
}

#[test]
fn and_or_not_nor_truth_tables() {
    // a = http_method GET, b = email ann@example.com; vary a and b.
    let cases = [
        ("and", [[false, false], [false, true]]),
        ("or", [[false, true], [true, true]]),
        ("not", [[true, false], [false, false]]),
        ("nor", [[true, true], [true, false]]),
    ];
    let bob = Some(User {
        email: Some("bob@example.com"),
        ..User::default()
    });
    for (op, table) in cases {
        let policy =
            format!("allow:\n  {op}:\n    - http_method: GET\n    - email: ann@example.com\n");
        for (a, method) in [(false, "POST"), (true, "GET")] {
            for (b, user) in [(false, bob), (true, ann())] {
                let got = decide(&policy, &input(user, method)).allow;
                assert_eq!(got, table[a as usize][b as usize], "{op} with a={a} b={b}");
            }
        }
    }
}

#[test]
fn reasons_are_those_of_the_deciding_criteria() {
    let policy = "allow:\n  and:\n    - http_method: GET\n    - email: ann@example.com\n";
    let ok = decide(policy, &input(ann(), "GET"));
    assert_eq!(ok.reasons, reasons(&[HttpMethodOk, EmailOk]));
    let bad_method = decide(policy, &input(ann(), "POST"));
    assert_eq!(bad_method.reasons, reasons(&[HttpMethodUnauthorized]));
    let nobody = decide(policy, &input(None, "POST"));
    assert_eq!(
        nobody.reasons,
        reasons(&[HttpMethodUnauthorized, UserUnauthenticated])
    );
    assert!(nobody.requires_login);
    // `not` keeps the reasons of the criteria it inverts.
    let not = decide(
        "allow:\n  not:\n    - http_method: POST\n",
        &input(None, "GET"),
    );
    assert!(not.allow);
    assert_eq!(not.reasons, reasons(&[HttpMethodUnauthorized]));
}

#[test]
fn deny_wins_and_says_so() {
    let policy = "allow:\n  or:\n    - accept: true\ndeny:\n  or:\n    - http_method: DELETE\n";
    let allowed = decide(policy, &input(None, "GET"));
    assert!(allowed.allow && !allowed.deny_matched);
    assert_eq!(allowed.reasons, reasons(&[Accept]));
    let denied = decide(policy, &input(ann(), "DELETE"));
    assert!(!denied.allow && denied.deny_matched && !denied.requires_login);
    assert_eq!(denied.reasons, reasons(&[HttpMethodOk]));
    assert_eq!(denied.verdict(), "deny");
}

#[test]
fn requires_login_only_when_signing_in_could_help() {
    // Pomerium's idiom: deny anonymous users explicitly.
    let policy =
        "allow:\n  or:\n    - accept: true\ndeny:\n  not:\n    - authenticated_user: true\n";
    let anonymous = decide(policy, &input(None, "GET"));
    assert!(!anonymous.allow && anonymous.deny_matched && anonymous.requires_login);
    assert!(decide(policy, &input(ann(), "GET")).allow);
    // A deny that holds for reasons unrelated to the user is a plain 403, even when the allow
    // side would have wanted a user too.
    let policy =
        "allow:\n  or:\n    - email: ann@example.com\ndeny:\n  or:\n    - http_method: TRACE\n";
    let trace = decide(policy, &input(None, "TRACE"));
    assert!(!trace.allow && !trace.requires_login);
    let get = decide(policy, &input(None, "GET"));
    assert!(!get.allow && get.requires_login);
    let wrong_user = decide(
        policy,
        &input(
            Some(User {
                email: Some("eve@example.com"),
                ..User::default()
            }),
            "GET",
        ),
    );
    assert!(!wrong_user.allow && !wrong_user.requires_login);
    assert_eq!(wrong_user.reasons, reasons(&[EmailUnauthorized]));
}

#[test]
fn operators_and_rules_are_alternatives() {
    let one_rule = "allow:\n  and:\n    - claim/family_name: Smith\n  or:\n    - domain: a.io\n    - domain: b.io\n";
    let two_rules = "- allow:\n    and:\n      - claim/family_name: Smith\n- allow:\n    or:\n      - domain: a.io\n      - domain: b.io\n";
    let claims = json!({"family_name": "Smith"});
    let claims = claims.as_object().unwrap();
    let smith = User {
        email: Some("s@z.io"),
        claims: Some(claims),
        ..User::default()
    };
    let b = User {
        email: Some("x@b.io"),
        ..User::default()
    };
    let c = User {
        email: Some("x@c.io"),
        ..User::default()
    };
    for policy in [one_rule, two_rules] {
        assert!(decide(policy, &input(Some(smith), "GET")).allow);
        assert!(decide(policy, &input(Some(b), "GET")).allow);
        let denied = decide(policy, &input(Some(c), "GET"));
        assert!(!denied.allow);
        assert_eq!(
            denied.reasons,
            reasons(&[ClaimUnauthorized, DomainUnauthorized])
        );
    }
}

#[test]
fn legacy_fields_are_or_ed_with_the_policy() {
    let node =
        portcullis_yaml::Node::parse("allow:\n  or:\n    - email: ann@example.com\n").unwrap();
    let legacy = LegacyRules {
        allowed_users: vec!["u-bob".into(), "Carol@Example.com".into()],
        allowed_domains: vec!["partner.io".into()],
        allowed_idp_claims: [("groups".to_owned(), vec![json!("admins"), json!(7)])].into(),
        ..LegacyRules::default()
    };
    let policy = crate::compile(Some(&node), &legacy).unwrap();
    let claims = json!({"groups": ["dev", "admins"]});
    let claims = claims.as_object().unwrap();
    let allowed = [
        User {
            id: "u-ann",
            email: Some("ann@example.com"),
            ..User::default()
        },
        User {
            id: "u-bob",
            ..User::default()
        },
        User {
            id: "u-carol",
            email: Some("carol@example.com"),
            ..User::default()
        },
        User {
            id: "x",
            email: Some("x@partner.io"),
            ..User::default()
        },
        User {
            id: "y",
            claims: Some(claims),
            ..User::default()
        },
    ];
    for user in allowed {
        assert!(policy.evaluate(&input(Some(user), "GET")).allow, "{user:?}");
    }
    let stranger = policy.evaluate(&input(
        Some(User {
            id: "z",
            email: Some("z@z.io"),
            ..User::default()
        }),
        "GET",
    ));
    assert!(!stranger.allow);
    assert_eq!(
        stranger.reasons,
        reasons(&[
            UserUnauthorized,
            EmailUnauthorized,
            DomainUnauthorized,
            ClaimUnauthorized
        ])
    );
    assert!(policy.evaluate(&input(None, "GET")).requires_login);
}

#[test]
fn legacy_flags() {
    let public = LegacyRules {
        allow_public_unauthenticated_access: true,
        ..LegacyRules::default()
    };
    assert!(
        crate::compile(None, &public)
            .unwrap()
            .evaluate(&input(None, "GET"))
            .allow
    );
    let any = LegacyRules {
        allow_any_authenticated_user: true,
        ..LegacyRules::default()
    };
    let any = crate::compile(None, &any).unwrap();
    assert!(any.evaluate(&input(ann(), "GET")).allow);
    assert!(any.evaluate(&input(None, "GET")).requires_login);
    let cors = LegacyRules {
        cors_allow_preflight: true,
        ..LegacyRules::default()
    };
    let cors = crate::compile(None, &cors).unwrap();
    let mut preflight = input(None, "OPTIONS");
    preflight.request.origin = Some("https://app");
    preflight.request.access_control_request_method = Some("GET");
    assert!(cors.evaluate(&preflight).allow);
    assert!(!cors.evaluate(&input(None, "OPTIONS")).allow);
}

#[test]
fn policy_is_shareable() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Policy>();
    assert_traits::<Decision>();
}
