//! What a load gives: the settings with where each value came from, or the error naming it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::schema::Settings;

/// Where a setting's value came from, so an error can point at it.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(var) => f.write_str(var),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// A setting that could not be taken, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("cannot read config file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Settings with the origin of each value that did not come from the defaults.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub file: Option<PathBuf>,
    origins: BTreeMap<String, Origin>,
}

impl Loaded {
    pub(super) fn new(
        settings: Settings,
        file: Option<PathBuf>,
        origins: BTreeMap<String, Origin>,
    ) -> Self {
        Loaded {
            settings,
            file,
            origins,
        }
    }

    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// An error about a setting, naming where its value came from.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin(key),
            message: message.into(),
        }
    }
}
