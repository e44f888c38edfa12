//! A real browser: Debian's Chromium driven by `playwright-core` (pinned in `tests/browser`)
//! through a list of [`Step`]s. The node side (`tests/browser/journey.mjs`) does the driving;
//! this side builds the steps and reads back what the browser saw.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context as _;
use serde_json::{Value, json};

/// One thing the browser does.
#[derive(Debug, Clone)]
pub enum Step {
    /// Navigate to a URL.
    Goto(String),
    /// Wait until the page's URL contains this text.
    WaitUrl(String),
    /// Type `value` into the field `selector`.
    Fill(String, String),
    /// Click `selector` and let the navigation it starts settle.
    Click(String),
    /// Record the URL, last navigation status, body text and cookies under a name.
    Snapshot(String),
}

/// Opens `start`, signs in as `alice` on the OpenID provider's login form (node
/// `oidc-provider`'s development interaction: any password), consents, and waits until the
/// browser is back at `start`.
pub fn login_steps(start: &str) -> Vec<Step> {
    vec![
        Step::Goto(start.into()),
        Step::WaitUrl("/interaction/".into()),
        Step::Fill("input[name=login]".into(), "alice".into()),
        Step::Fill("input[name=password]".into(), "any".into()),
        Step::Click("button[type=submit]".into()),
        Step::WaitUrl("/interaction/".into()),
        Step::Click("button[type=submit]".into()),
        Step::WaitUrl(start.into()),
    ]
}

/// What the browser saw at a [`Step::Snapshot`].
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The page URL.
    pub url: String,
    /// The status of the last main-frame navigation response.
    pub status: Option<u16>,
    /// The page's visible text.
    pub text: String,
    /// Every cookie of the browser context (playwright's cookie objects).
    pub cookies: Vec<Value>,
}

/// A browser run: its snapshots by name.
#[derive(Debug)]
pub struct Journey {
    result: Value,
}

fn directory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Runs `steps` in a fresh headless Chromium. `resolver_rules` maps host names to
/// `127.0.0.1:port` (Chromium `--host-resolver-rules`). Fails with the step, URL and page text
/// when a step fails.
pub fn run(steps: &[Step], resolver_rules: &str) -> anyhow::Result<Journey> {
    let dir = directory();
    anyhow::ensure!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/setup (npm ci in {})",
        dir.display()
    );
    let steps: Vec<Value> = steps
        .iter()
        .map(|s| match s {
            Step::Goto(url) => json!({ "goto": url }),
            Step::WaitUrl(text) => json!({ "wait_url": text }),
            Step::Fill(selector, value) => json!({ "fill": selector, "value": value }),
            Step::Click(selector) => json!({ "click": selector }),
            Step::Snapshot(name) => json!({ "snapshot": name }),
        })
        .collect();
    let output = Command::new("node")
        .arg("journey.mjs")
        .current_dir(&dir)
        .env("JOURNEY_STEPS", Value::from(steps).to_string())
        .env("JOURNEY_RESOLVER_RULES", resolver_rules)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start node")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("the browser driver failed ({}): {stdout}", output.status))?;
    if !result["error"].is_null() {
        anyhow::bail!("the browser journey failed: {:#}", result["error"]);
    }
    Ok(Journey { result })
}

impl Journey {
    /// The snapshot called `name`.
    pub fn snapshot(&self, name: &str) -> anyhow::Result<Snapshot> {
        let s = &self.result["snapshots"][name];
        anyhow::ensure!(s.is_object(), "no snapshot {name:?}");
        Ok(Snapshot {
            url: s["url"].as_str().unwrap_or_default().to_owned(),
            status: s["status"].as_u64().and_then(|n| u16::try_from(n).ok()),
            text: s["text"].as_str().unwrap_or_default().to_owned(),
            cookies: s["cookies"].as_array().cloned().unwrap_or_default(),
        })
    }
}

impl Snapshot {
    /// The cookie called `name` set for `domain`.
    pub fn cookie(&self, name: &str, domain: &str) -> Option<&Value> {
        self.cookies
            .iter()
            .find(|c| c["name"] == name && c["domain"].as_str() == Some(domain))
    }
}
