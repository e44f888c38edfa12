//! Logging set up from `log_level` and `log_format`.

use std::io::IsTerminal as _;

use portcullis_config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: JSON lines unless `log_format: text`, or unset with a
/// terminal on stdout. `RUST_LOG` refines the filter when set.
pub(crate) fn init(config: &Config) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(config.log_level.as_str()));
    let json = match config.log_format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Text) => false,
        None => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.init();
    }
}
