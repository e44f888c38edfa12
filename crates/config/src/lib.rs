//! Portcullis configuration: one YAML file plus environment overrides, validated into typed
//! values before anything binds a socket.
//!
//! The keys follow Pomerium's names (design §8) so a Pomerium user's file runs with few or no
//! changes. Loading happens in three steps:
//!
//! 1. **source**: the file is parsed into a tree that remembers lines; environment variables
//!    (`SHARED_SECRET`, `SHARED_SECRET_FILE`, ...) replace keys.
//! 2. **raw**: each key is deserialized on its own, so one bad value never hides another.
//! 3. **validate**: raw values become typed ones ([`Url`](url::Url), [`Duration`](std::time::Duration),
//!    [`SocketAddr`](std::net::SocketAddr), 32-byte secrets, PEM, compiled policies), with
//!    defaults applied and cross-key rules checked.
//!
//! Every problem found is returned at once in [`ConfigError::Invalid`], each naming its key
//! and the file line (or environment variable) it came from. Secrets are [`Secret`]s whose
//! `Debug` prints `[redacted]`.

mod config;
#[doc(hidden)]
pub mod fuzzing;
mod pomerium;
mod problem;
mod raw;
mod route;
mod secret;
mod source;
mod validate;
pub mod values;

use std::collections::BTreeMap;
use std::path::Path;

use portcullis_yaml::Node;

pub use config::{
    CertificatePair, Config, CookieOptions, IdpOptions, LogFormat, LogLevel, SameSite, Services,
    StorageOptions, Timeouts,
};
pub use problem::{ConfigError, Problem};
pub use route::{PathMatch, RegexRewrite, Route, Upstream, host_name_matches};
pub use secret::{Key32, Secret};

/// Loads the file at `path` with the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    Config::from_sources(&text, &path.display().to_string(), &env)
}

// === impl Config ===

impl Config {
    /// Builds a configuration from YAML text and an environment map. `file_name` only labels
    /// messages. Tests use this with a map in place of the process environment.
    pub fn from_sources(
        text: &str,
        file_name: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let root = Node::parse(text).map_err(|source| ConfigError::Syntax {
            file: file_name.to_owned(),
            source,
        })?;
        let mut problems = problem::Collector::default();
        let (raw, routes) = source::read(&root, env, &mut problems)?;
        let mut random_key = random_key;
        match validate::validate(&raw, routes, &mut random_key, &mut problems) {
            Some(config) if problems.problems.is_empty() => Ok(config),
            _ => {
                let mut problems = problems.problems;
                // File order reads best: environment first, then by line, missing keys last.
                problems.sort_by_key(|p| match &p.origin {
                    Some(portcullis_yaml::Origin::Env(_)) => 0,
                    Some(portcullis_yaml::Origin::Line(line)) => *line,
                    None => usize::MAX,
                });
                Err(ConfigError::Invalid {
                    file: file_name.to_owned(),
                    problems,
                })
            }
        }
    }
}

fn random_key() -> [u8; 32] {
    use ring::rand::SecureRandom as _;
    let mut key = [0u8; 32];
    // The system RNG failing means the OS cannot provide randomness at all.
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .expect("the operating system's random number generator failed");
    key
}

#[cfg(test)]
mod tests;
