//! Problems found in a configuration, each naming its key and where it was written.

use std::fmt;
use std::path::PathBuf;

use portcullis_yaml::{DeError, Origin};

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The key at fault, as a path: `shared_secret`, `routes[2].to`.
    pub key: String,
    /// Where the value was written; `None` when the key is missing altogether.
    pub origin: Option<Origin>,
    /// What is wrong, in lower case, with the context a person needs to fix it.
    pub message: String,
}

/// Loading a configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, permissions).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file (or an environment value) is not YAML.
    #[error("{file}: {source}")]
    Syntax {
        /// The file (or environment variable) name.
        file: String,
        /// The parser's complaint, with line and column.
        source: portcullis_yaml::YamlError,
    },
    /// The YAML is well formed but some values are wrong; every problem is listed.
    #[error("{}", Problems { file, problems })]
    Invalid {
        /// The file name, to prefix line numbers with.
        file: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// Displays problems one per line as `file:line: key: message`.
struct Problems<'a> {
    file: &'a str,
    problems: &'a [Problem],
}

/// Collects problems while a configuration is validated.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub(crate) problems: Vec<Problem>,
}

// === impl Problem ===

impl Problem {
    /// Formats the problem with the file name before its line.
    pub fn display_in<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        DisplayIn(file, self)
    }
}

struct DisplayIn<'a>(&'a str, &'a Problem);

impl fmt::Display for DisplayIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DisplayIn(file, p) = self;
        match &p.origin {
            Some(Origin::Line(line)) => write!(f, "{file}:{line}: {}: {}", p.key, p.message),
            Some(Origin::Env(var)) => {
                write!(f, "environment {var}: {}: {}", p.key, p.message)
            }
            None => write!(f, "{file}: {}: {}", p.key, p.message),
        }
    }
}

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.problems {
            write!(f, "\n  {}", p.display_in(self.file))?;
        }
        Ok(())
    }
}

// === impl Collector ===

impl Collector {
    pub(crate) fn add(
        &mut self,
        key: impl Into<String>,
        origin: Option<&Origin>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            key: key.into(),
            origin: origin.cloned(),
            message: message.into(),
        });
    }

    pub(crate) fn add_de(&mut self, key: &str, fallback: &Origin, err: DeError) {
        let origin = err.origin.unwrap_or_else(|| fallback.clone());
        self.add(key, Some(&origin), err.message);
    }
}
