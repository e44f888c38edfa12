//! Fuzz target body (`fuzz/fuzz_targets/config.rs`, and the workspace smoke test over the
//! seed corpus). Not an API: arbitrary text must never panic the loader; every problem names
//! a key and says what is wrong; a loaded configuration's `Debug` never shows its secrets.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{Config, ConfigError};

/// Loads `data` as a configuration file with an empty environment.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_sources(text, "fuzz.yaml", &BTreeMap::new()) {
        Ok(config) => {
            let debug = format!("{config:?}");
            for secret in [config.shared_secret.expose(), config.cookie.secret.expose()] {
                let encoded = STANDARD.encode(secret);
                assert!(!debug.contains(&encoded), "a secret in Debug: {text:?}");
            }
        }
        Err(ConfigError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty(), "invalid without a problem: {text:?}");
            for problem in &problems {
                assert!(!problem.key.is_empty(), "a problem without a key: {text:?}");
                assert!(!problem.message.is_empty(), "a problem without a message");
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}
