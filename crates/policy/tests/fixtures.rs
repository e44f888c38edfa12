//! Runs every policy fixture in `tests/fixtures/` (mostly Pomerium's documented examples):
//! each policy must compile and make the listed decisions.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use portcullis_policy::{LegacyRules, OwnedInput, Policy, compile};
use portcullis_yaml::{Node, from_node};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    input: OwnedInput,
    allow: bool,
    reasons: Option<Vec<String>>,
    requires_login: Option<bool>,
}

struct Fixture {
    file: String,
    node: Node,
    policy: Policy,
    cases: Vec<Case>,
}

fn load_all() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths.into_iter().map(|path| load(&path)).collect()
}

fn load(path: &Path) -> Fixture {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let node = Node::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let policy_node = node
        .get("policy")
        .unwrap_or_else(|| panic!("{file}: no policy"));
    let policy = compile(Some(policy_node), &LegacyRules::default())
        .unwrap_or_else(|e| panic!("{file}: {e:#?}"));
    let cases_node = node
        .get("cases")
        .unwrap_or_else(|| panic!("{file}: no cases"));
    let cases: Vec<Case> = from_node(cases_node).unwrap_or_else(|e| panic!("{file}: {e:?}"));
    assert!(!cases.is_empty(), "{file}: no cases");
    Fixture {
        file,
        node: policy_node.clone(),
        policy,
        cases,
    }
}

#[test]
fn every_fixture_decides_as_documented() {
    let fixtures = load_all();
    assert!(fixtures.len() >= 10, "fixtures went missing");
    let default_now = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let mut failures = Vec::new();
    let mut count = 0;
    for fixture in &fixtures {
        for case in &fixture.cases {
            count += 1;
            let decision = fixture.policy.evaluate(&case.input.input(default_now));
            let mut reasons: Vec<String> = decision.reasons.iter().map(|r| r.to_string()).collect();
            reasons.sort();
            let mut wrong = decision.allow != case.allow;
            if let Some(want) = &case.reasons {
                let mut want = want.clone();
                want.sort();
                wrong |= want != reasons;
            }
            if let Some(want) = case.requires_login {
                wrong |= want != decision.requires_login;
            }
            if wrong {
                failures.push(format!(
                    "{} / {}: got {} {reasons:?} (requires_login: {}), want {} {:?}",
                    fixture.file,
                    case.name,
                    decision.verdict(),
                    decision.requires_login,
                    if case.allow { "allow" } else { "deny" },
                    case.reasons,
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 50, "only {count} cases ran");
}

#[test]
fn fixtures_use_every_criterion() {
    fn keys(node: &Node, out: &mut Vec<String>) {
        if let Some(entries) = node.as_map() {
            for (k, v) in entries {
                out.extend(k.as_str().map(str::to_owned));
                keys(v, out);
            }
        }
        for item in node.as_seq().unwrap_or_default() {
            keys(item, out);
        }
    }
    let mut seen = Vec::new();
    for fixture in load_all() {
        keys(&fixture.node, &mut seen);
    }
    for name in [
        "accept",
        "reject",
        "authenticated_user",
        "email",
        "domain",
        "user",
        "groups",
        "http_method",
        "http_path",
        "cors_preflight",
        "source_ip",
        "date",
        "day_of_week",
        "time_of_day",
        "client_certificate",
        "and",
        "or",
        "not",
        "nor",
    ] {
        assert!(seen.iter().any(|k| k == name), "no fixture uses {name}");
    }
    assert!(
        seen.iter().any(|k| k.starts_with("claim/")),
        "no fixture uses claim/"
    );
}
