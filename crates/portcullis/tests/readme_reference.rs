//! Every configuration key the code accepts appears in the README's reference, written as
//! `` `key` ``.
//!
//! The keys are read from the source, so a key added to the code without documentation fails
//! this test: the fields of every `raw_struct!` invocation in `crates/config/src/raw.rs`
//! (top-level keys and route keys), the fields of `RawCertificate` (the keys of a
//! `certificates` entry), and the route-list keys `ROUTE_KEYS` of `crates/config/src/source.rs`.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = workspace().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `text` without `//` comments (line and doc comments), so their words are never taken for
/// keys. The sources hold no `//` inside string literals where it matters.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.find("//").map_or(line, |i| &line[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text between the `{` at `open` and its matching `}`.
fn braced(text: &str, open: usize) -> &str {
    assert_eq!(text.as_bytes()[open], b'{', "expected `{{` at byte {open}");
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after byte {open}");
}

/// The field names of a struct body (`a: T, pub(crate) b: Map<K, V>, #[attr] c: T`): the
/// identifier before each `:` (not `::`) at nesting depth 0. A `#[serde(rename = "x")]` on a
/// field makes its key `x`.
fn field_names(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    for field in split_top_level(body) {
        let mut rest = field.trim();
        let mut rename = None;
        while let Some(attr) = rest.strip_prefix("#[") {
            let end = attr.find(']').expect("an attribute ends with `]`");
            if let Some(at) = attr[..end].find("rename = \"") {
                let value = &attr[at + "rename = \"".len()..];
                rename = Some(value[..value.find('"').unwrap()].to_owned());
            }
            rest = attr[end + 1..].trim_start();
        }
        for visibility in ["pub(crate) ", "pub(super) ", "pub "] {
            rest = rest.strip_prefix(visibility).unwrap_or(rest).trim_start();
        }
        if rest.is_empty() {
            continue;
        }
        let name = rest
            .split(|c: char| c == ':' || c.is_whitespace())
            .next()
            .unwrap_or_default();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "cannot read a field name from {field:?}"
        );
        names.push(rename.unwrap_or_else(|| name.to_owned()));
    }
    names
}

/// `body` split on the commas that are not inside `<>`, `()` or `[]`.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in body.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
}

/// Every key the configuration accepts, each with where it is declared.
fn config_keys() -> Vec<(String, &'static str)> {
    let raw = strip_comments(&read("crates/config/src/raw.rs"));
    let mut keys = Vec::new();

    // `raw_struct! { Name { field: Type, ... } }` — the invocations, not the `macro_rules!`.
    let mut structs = 0;
    for (at, _) in raw.match_indices("raw_struct! {") {
        let invocation = braced(&raw, at + "raw_struct! ".len());
        let inner = invocation
            .find('{')
            .expect("a raw_struct! names a struct body");
        let name = invocation[..inner].split_whitespace().last().unwrap_or("?");
        let fields = field_names(braced(invocation, inner));
        assert!(!fields.is_empty(), "raw_struct! {name} declares no fields");
        keys.extend(fields.into_iter().map(|f| (f, "raw_struct!")));
        structs += 1;
    }
    assert!(
        structs >= 2,
        "expected the RawConfig and RawRoute raw_struct! blocks"
    );

    // `struct RawCertificate { pub(crate) cert: String, ... }`: the keys of a `certificates` entry.
    let at = raw
        .find("struct RawCertificate")
        .expect("raw.rs declares RawCertificate");
    let open = at + raw[at..].find('{').expect("RawCertificate has a body");
    keys.extend(
        field_names(braced(&raw, open))
            .into_iter()
            .map(|f| (f, "RawCertificate")),
    );

    // `const ROUTE_KEYS: &[&str] = &["routes", "policy"];`
    let source = strip_comments(&read("crates/config/src/source.rs"));
    let at = source
        .find("const ROUTE_KEYS")
        .expect("source.rs declares ROUTE_KEYS");
    let list = &source[at..at + source[at..].find(';').unwrap()];
    let list = &list[list.find("&[").expect("ROUTE_KEYS is a slice")..];
    keys.extend(
        list.split('"')
            .skip(1)
            .step_by(2)
            .map(|k| (k.to_owned(), "ROUTE_KEYS")),
    );
    keys
}

#[test]
fn the_parser_finds_the_known_keys() {
    let keys: Vec<String> = config_keys().into_iter().map(|(k, _)| k).collect();
    for expected in [
        "services",
        "shared_secret_file",
        "certificates",
        "jwt_claims_headers",
        "forward_auth_trusted_addresses",
        "from",
        "to",
        "allowed_idp_claims",
        "cors_allow_preflight",
        "cert",
        "key",
        "routes",
        "policy",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "the parser missed `{expected}`: {keys:?}"
        );
    }
    assert!(keys.len() > 80, "only {} keys found: {keys:?}", keys.len());
    for noise in [
        "pub", "crate", "Spanned", "Option", "String", "value", "origin",
    ] {
        assert!(
            !keys.iter().any(|k| k == noise),
            "`{noise}` is not a key: {keys:?}"
        );
    }
}

#[test]
fn every_config_key_is_in_the_readme_reference() {
    let readme = read("README.md");
    let mut missing: Vec<String> = config_keys()
        .into_iter()
        .filter(|(key, _)| !readme.contains(&format!("`{key}`")))
        .map(|(key, from)| format!("`{key}` ({from})"))
        .collect();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "README.md does not document these configuration keys (write each as `key` in the \
         configuration reference):\n  {}",
        missing.join("\n  ")
    );
}
