use portcullis_yaml::{Node, Origin};

use super::*;

fn errors(yaml: &str) -> Vec<(Option<usize>, String)> {
    let node = Node::parse(yaml).unwrap();
    let errors = compile(Some(&node), &LegacyRules::default()).unwrap_err();
    errors
        .into_iter()
        .map(|e| {
            let line = match e.origin {
                Some(Origin::Line(line)) => Some(line),
                _ => None,
            };
            (line, e.message)
        })
        .collect()
}

#[test]
fn every_problem_is_reported_with_rule_action_operator_criterion_and_line() {
    let yaml = "\
- allow:
    or:
      - email: a@example.com
- deny:
    and:
      - http_method: GET
  allow:
    or:
      - emial: b@example.com
      - domain: {equals: example.com}
    xor:
      - accept: true
- alow:
    and: []
";
    assert_eq!(
        errors(yaml),
        [
            (
                Some(9),
                "rule 2, allow.or: criterion \"emial\" is not known (did you mean \"email\"? \
                 expected one of accept, reject, authenticated_user, email, domain, user, claim, \
                 groups, http_method, http_path, cors_preflight, source_ip, date, day_of_week, \
                 time_of_day, client_certificate, or claim/<name>)"
                    .to_owned()
            ),
            (
                Some(10),
                "rule 2, allow.or: criterion \"domain\", \"equals\": is not a string matcher \
                 operator (expected one of is, contains, starts_with, ends_with, not, in, not_in)"
                    .to_owned()
            ),
            (
                Some(11),
                "rule 2, allow: operator \"xor\" is not known (did you mean \"or\"? expected and, or, \
                 not or nor)"
                    .to_owned()
            ),
            (
                Some(13),
                "rule 3: action \"alow\" is not known (did you mean \"allow\"? expected allow or \
                 deny)"
                    .to_owned()
            ),
        ]
    );
}

#[test]
fn shape_errors() {
    let one = |yaml: &str| errors(yaml).remove(0);
    assert_eq!(
        one("just a string"),
        (
            Some(1),
            "policy: expected a rule (a mapping with allow and/or deny) or a list of rules, found \
             a string"
                .into()
        )
    );
    assert_eq!(
        one("- [allow]"),
        (
            Some(1),
            "rule 1: expected a mapping with allow and/or deny, found a list".into()
        )
    );
    assert_eq!(
        one("allow: [email: x]"),
        (
            Some(1),
            "rule 1, allow: expected a mapping of operators (and, or, not, nor), found a list"
                .into()
        )
    );
    assert_eq!(
        one("allow:\n  or:\n    email: x\n"),
        (
            Some(3),
            "rule 1, allow.or: expected a list of criteria, found a mapping".into()
        )
    );
    assert_eq!(
        one("allow:\n  or:\n    - email: x\n      domain: y\n"),
        (
            Some(3),
            "rule 1, allow.or: criterion 1 has 2 keys (email, domain); write each criterion as \
             its own list item"
                .into()
        )
    );
    assert_eq!(
        one("allow:\n  nor:\n    - accept: true\n    - email\n"),
        (
            Some(4),
            "rule 1, allow.nor: criterion 2: expected a mapping with one criterion (e.g. `- email: \
             {is: a@example.com}`), found a string"
                .into()
        )
    );
    assert_eq!(
        one("allow:\n  or: [accept: true]\n  or: [reject: true]\n"),
        (
            Some(3),
            "rule 1, allow: \"or\" appears more than once".into()
        )
    );
    assert_eq!(
        one("- {}"),
        (Some(1), "rule 1: has neither allow nor deny".into())
    );
}

#[test]
fn json_policies_compile_like_yaml() {
    let json = r#"[{"allow": {"or": [{"email": {"is": "a@example.com"}}]}},
                   {"deny": {"not": [{"source_ip": ["10.0.0.0/8"]}]}}]"#;
    let policy = Policy::parse(json).unwrap();
    assert!(!policy.denies_all());
    let errors = Policy::parse(r#"{"allow": {"or": [{"emial": "x"}]}}"#).unwrap_err();
    assert!(
        errors[0]
            .message
            .starts_with("rule 1, allow.or: criterion \"emial\"")
    );
    assert_eq!(errors[0].origin, Some(Origin::Line(1)));
}

#[test]
fn yaml_syntax_errors_carry_the_line() {
    let errors = Policy::parse("allow:\n  or: [\n").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(matches!(errors[0].origin, Some(Origin::Line(_))));
    assert!(errors[0].message.starts_with("invalid YAML"));
}

#[test]
fn legacy_errors_name_the_field() {
    let legacy = LegacyRules {
        allowed_domains: vec!["example.com".into(), " ".into()],
        allowed_idp_claims: [
            ("groups".to_owned(), vec![serde_json::json!(["x"])]),
            ("".to_owned(), vec![serde_json::json!("x")]),
            ("team".to_owned(), vec![]),
        ]
        .into_iter()
        .collect(),
        ..LegacyRules::default()
    };
    let messages: Vec<_> = compile(None, &legacy)
        .unwrap_err()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(
        messages,
        [
            "allowed_domains: entry 2 is empty",
            "allowed_idp_claims: claim \"\": the claim name is empty",
            "allowed_idp_claims: claim \"groups\": value 1 is not a string, number or boolean \
             (found [\"x\"])",
            "allowed_idp_claims: claim \"team\": lists no values, so it would never match",
        ]
    );
}

#[test]
fn empty_operators_and_missing_policy_compile_to_deny_all() {
    assert!(compile(None, &LegacyRules::default()).unwrap().denies_all());
    let node = Node::parse("allow:\n  and: []\n").unwrap();
    assert!(
        compile(Some(&node), &LegacyRules::default())
            .unwrap()
            .denies_all()
    );
    let node = Node::parse("~").unwrap();
    assert!(
        compile(Some(&node), &LegacyRules::default())
            .unwrap()
            .denies_all()
    );
}
