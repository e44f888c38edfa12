use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[test]
fn lines_are_one_based_and_follow_the_text() {
    let node = Node::parse("a: 1\nb:\n  - x\n  - y\nc: {d: e}\n").unwrap();
    assert_eq!(node.get("a").unwrap().line(), Some(1));
    let b = node.get("b").unwrap().as_seq().unwrap();
    assert_eq!(b[1].line(), Some(4));
    assert_eq!(node.get("c").unwrap().get("d").unwrap().line(), Some(5));
}

#[test]
fn scalars_resolve_by_the_core_schema() {
    let node = Node::parse("a: true\nb: 'true'\nc: 0x10\nd: 1.5\ne: yes\nf: ~\ng:").unwrap();
    assert_eq!(node.get("a").unwrap().resolve(), Resolved::Bool(true));
    assert_eq!(node.get("b").unwrap().resolve(), Resolved::Str("true"));
    assert_eq!(node.get("c").unwrap().resolve(), Resolved::Int(16));
    assert_eq!(node.get("d").unwrap().resolve(), Resolved::Float(1.5));
    assert_eq!(node.get("e").unwrap().resolve(), Resolved::Str("yes"));
    assert!(node.get("f").unwrap().is_null());
    assert!(node.get("g").unwrap().is_null());
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Sample {
    name: String,
    port: u16,
    tags: Vec<String>,
    extra: Option<BTreeMap<String, String>>,
}

#[test]
fn deserializes_and_reports_the_line_of_the_bad_value() {
    let node = Node::parse("name: 12\nport: 80\ntags: [a, b]\n").unwrap();
    let sample: Sample = from_node(&node).unwrap();
    assert_eq!(
        sample.name, "12",
        "a plain number is accepted where a string is wanted"
    );
    assert_eq!(sample.tags, ["a", "b"]);

    let node = Node::parse("name: x\nport: 80\ntags:\n  - a\n  - [b]\n").unwrap();
    let err = from_node::<Sample>(&node).unwrap_err();
    assert_eq!(err.origin, Some(Origin::Line(5)), "{err}");
    assert!(err.message.contains("expected a string"), "{err}");

    let node = Node::parse("name: x\nport: 99999\ntags: []\n").unwrap();
    let err = from_node::<Sample>(&node).unwrap_err();
    assert_eq!(err.origin, Some(Origin::Line(2)), "{err}");
}

#[test]
fn unknown_fields_are_reported() {
    let node = Node::parse("name: x\nport: 1\ntags: []\nbogus: 1\n").unwrap();
    let err = from_node::<Sample>(&node).unwrap_err();
    assert!(err.message.contains("bogus"), "{err}");
}

#[test]
fn syntax_errors_carry_their_line() {
    let err = Node::parse("a: 1\nb: [1, 2\n").unwrap_err();
    assert!(err.line >= 2, "{err}");
}

#[test]
fn aliases_resolve_to_their_anchor() {
    let node = Node::parse("a: &x {k: v}\nb: *x\n").unwrap();
    assert_eq!(node.get("b").unwrap().get("k").unwrap().as_str(), Some("v"));
}

#[test]
fn env_values_name_their_variable() {
    let node = Node::parse_env("IDP_SCOPES", "[openid, email]").unwrap();
    assert_eq!(
        node.as_seq().unwrap()[1].origin,
        Origin::Env("IDP_SCOPES".into())
    );
}
