//! A real third-party OpenID provider: node `oidc-provider` (pinned in `tests/oidc`), with its
//! development login form, on a port the kernel chooses. `scripts/setup` installs it.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

/// A running provider; stopped when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    child: Child,
    issuer: String,
}

/// One OAuth client registered with the provider.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
    /// Allowed `redirect_uri`s.
    pub redirect_uris: Vec<String>,
    /// Allowed `post_logout_redirect_uri`s.
    pub post_logout_redirect_uris: Vec<String>,
}

fn directory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// Provider settings beyond clients and groups.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Access token lifetime (default one hour): short values exercise token refresh.
    pub access_token_ttl: Option<Duration>,
}

impl OidcProvider {
    /// Starts the provider with `clients`; `groups` maps login names to their groups.
    pub fn start(clients: &[Client], groups: &[(&str, &[&str])]) -> anyhow::Result<OidcProvider> {
        OidcProvider::start_with(clients, groups, &Settings::default())
    }

    /// [`OidcProvider::start`] with `settings`.
    pub fn start_with(
        clients: &[Client],
        groups: &[(&str, &[&str])],
        settings: &Settings,
    ) -> anyhow::Result<OidcProvider> {
        let dir = directory();
        anyhow::ensure!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run scripts/setup (npm ci in {})",
            dir.display()
        );
        let clients: Vec<Value> = clients
            .iter()
            .map(|c| {
                json!({
                    "client_id": c.id,
                    "client_secret": c.secret,
                    "redirect_uris": c.redirect_uris,
                    "post_logout_redirect_uris": c.post_logout_redirect_uris,
                })
            })
            .collect();
        let groups: serde_json::Map<String, Value> = groups
            .iter()
            .map(|(login, g)| ((*login).to_owned(), json!(g)))
            .collect();
        let mut command = Command::new("node");
        if let Some(ttl) = settings.access_token_ttl {
            command.env("OIDC_ACCESS_TOKEN_TTL", ttl.as_secs().max(1).to_string());
        }
        let mut child = command
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("OIDC_CLIENTS", Value::from(clients).to_string())
            .env("OIDC_GROUPS", Value::from(groups).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start node (is Node.js installed?)")?;
        let stdout = child.stdout.take().context("provider stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let mut provider = OidcProvider {
            child,
            issuer: String::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .context("the OpenID provider did not start within 20 s")?;
        let ready: Value = serde_json::from_str(&line)
            .with_context(|| format!("unexpected provider output {line:?}"))?;
        provider.issuer = ready["issuer"].as_str().context("no issuer")?.to_owned();
        Ok(provider)
    }

    /// The issuer URL (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
