//! Where raw values come from: the YAML file, overridden key by key by the environment.
//!
//! Every top-level key `foo` may be set by the environment variable `FOO`; secrets also by
//! `FOO_FILE` (a path whose contents are the value). An environment value replaces the file's
//! value for that key (and for its `_file` twin). Structured keys (`routes`, `certificates`,
//! maps) take YAML or JSON in the variable; `ROUTES`/`POLICY` may also be base64 of either, as
//! Pomerium accepts. Lists may be comma-separated.

use std::collections::BTreeMap;

use portcullis_yaml::{Node, NodeKind, Origin};

use crate::problem::{Collector, ConfigError};
use crate::raw::{RawConfig, RawRoute, read_map};
use crate::validate::RawRouteEntry;
use crate::values::decode_base64;

/// Keys whose environment values are parsed as YAML rather than taken as one scalar.
const STRUCTURED: &[&str] = &[
    "routes",
    "policy",
    "certificates",
    "jwt_claims_headers",
    "set_response_headers",
];

/// The keys that hold the route list: `routes`, and Pomerium's older top-level `policy`.
const ROUTE_KEYS: &[&str] = &["routes", "policy"];

/// Merges the file's top-level mapping with the environment and reads every key.
pub(crate) fn read(
    root: &Node,
    env: &BTreeMap<String, String>,
    p: &mut Collector,
) -> Result<(RawConfig, Vec<RawRouteEntry>), ConfigError> {
    let file_entries: &[(Node, Node)] = match &root.kind {
        NodeKind::Null => &[],
        NodeKind::Map(entries) => entries,
        _ => {
            p.add(
                "the configuration",
                Some(&root.origin),
                format!("expected a mapping of keys, found {}", root.describe()),
            );
            &[]
        }
    };
    let overrides = env_overrides(env)?;
    let overridden = |key: &str| {
        overrides.iter().any(|(k, _)| {
            k == key || k.strip_suffix("_file") == Some(key) || key.strip_suffix("_file") == Some(k)
        })
    };
    let mut entries: Vec<(Node, Node)> = file_entries
        .iter()
        .filter(|(k, _)| !k.as_str().is_some_and(overridden))
        .cloned()
        .collect();
    for (key, value) in overrides {
        let origin = value.origin.clone();
        entries.push((Node::string(key, origin), value));
    }
    let merged = Node::new(NodeKind::Map(entries), root.origin.clone());

    let mut known: Vec<&str> = RawConfig::KEYS.to_vec();
    known.extend_from_slice(ROUTE_KEYS);
    let mut raw = RawConfig::default();
    let mut routes = Vec::new();
    let mut route_key_seen: Option<&str> = None;
    read_map(&merged, "", &known, p, |key, node, path, p| {
        if let Some(route_key) = ROUTE_KEYS.iter().find(|k| **k == key) {
            if let Some(first) = route_key_seen.replace(route_key) {
                p.add(
                    path,
                    Some(&node.origin),
                    format!("set only one of `{first}` and `{key}`"),
                );
            }
            routes = read_routes(node, p);
            return true;
        }
        raw.set(key, node, path, p)
    });
    Ok((raw, routes))
}

fn read_routes(node: &Node, p: &mut Collector) -> Vec<RawRouteEntry> {
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            p.add(
                "routes",
                Some(&node.origin),
                format!("expected a list of routes, found {}", node.describe()),
            );
        }
        return Vec::new();
    };
    let mut known: Vec<&str> = RawRoute::KEYS.to_vec();
    known.push("policy");
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut raw = RawRoute::default();
            let mut policy = None;
            read_map(
                item,
                &format!("routes[{i}]"),
                &known,
                p,
                |key, node, path, p| {
                    if key == "policy" {
                        policy = Some(node.clone());
                        return true;
                    }
                    raw.set(key, node, path, p)
                },
            );
            RawRouteEntry {
                raw,
                policy,
                origin: item.origin.clone(),
            }
        })
        .collect()
}

/// The environment's values for known keys, as nodes whose origin names the variable.
fn env_overrides(env: &BTreeMap<String, String>) -> Result<Vec<(String, Node)>, ConfigError> {
    let mut out = Vec::new();
    for key in RawConfig::KEYS.iter().chain(ROUTE_KEYS) {
        let var = key.to_ascii_uppercase();
        let Some(value) = env.get(&var) else { continue };
        let node = if STRUCTURED.contains(key) {
            structured(&var, value, ROUTE_KEYS.contains(key))?
        } else {
            Node::new(
                NodeKind::Scalar {
                    text: value.clone(),
                    plain: true,
                },
                Origin::Env(var.clone()),
            )
        };
        out.push(((*key).to_owned(), node));
    }
    Ok(out)
}

fn structured(var: &str, value: &str, allow_base64: bool) -> Result<Node, ConfigError> {
    let syntax = |source| ConfigError::Syntax {
        file: format!("environment {var}"),
        source,
    };
    let node = Node::parse_env(var, value).map_err(syntax)?;
    if allow_base64
        && matches!(node.kind, NodeKind::Scalar { .. })
        && let Some(text) = decode_base64(value).and_then(|b| String::from_utf8(b).ok())
    {
        return Node::parse_env(var, &text).map_err(syntax);
    }
    Ok(node)
}
