//! Metrics read by an independent parser: the Prometheus project's Python client
//! (`prometheus-client`, pinned in `scripts/setup`), whose OpenMetrics parser is strict about
//! the exposition format (types, `_total` suffixes, histogram buckets, `# EOF`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

/// One sample: `name{labels} value`.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The family's name (`portcullis_http_requests` for `portcullis_http_requests_total`).
    pub family: String,
    /// The family's type (`counter`, `gauge`, `histogram`, ...).
    pub kind: String,
    /// The sample's full name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Parses an exposition; `Err(the parser's message)` when it is not valid OpenMetrics.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/setup installs prometheus-client)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("python reads the exposition");
    let output = child.wait_with_output().expect("python finishes");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stderr.contains("No module named"),
            "prometheus-client is missing; run scripts/setup: {stderr}"
        );
        return Err(stderr);
    }
    let parsed: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Ok(parsed
        .iter()
        .map(|s| Sample {
            family: text(&s["family"]),
            kind: text(&s["type"]),
            name: text(&s["name"]),
            labels: s["labels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default(),
            value: s["value"].as_f64().unwrap_or(f64::NAN),
        })
        .collect())
}

/// The value of the sample `name` whose labels include every `labels` pair (0 when none).
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}
