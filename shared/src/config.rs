//! Typed configuration, read once per cold start from the environment. A bad value stops the
//! cold start with a message naming the variable, instead of surfacing later as a 500.

use std::path::PathBuf;

/// Which engine answers the intents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Embedded,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} has an invalid value '{value}': {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("environment variable {name} is required: {why}")]
    Missing {
        name: &'static str,
        why: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub provider: ProviderKind,
    /// Directory of the embedding model (`MODEL_DIR`); `None` runs the classic engine alone.
    pub model_dir: Option<PathBuf>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Testable core of [`Config::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let provider = match get("INTENT_PROVIDER").as_deref().map(str::trim) {
            None | Some("") | Some("embedded") => ProviderKind::Embedded,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "INTENT_PROVIDER",
                    value: other.to_owned(),
                    expected: "one of: embedded",
                });
            }
        };
        let model_dir = match get("MODEL_DIR") {
            Some(v) if !v.trim().is_empty() => Some(PathBuf::from(v.trim())),
            _ => None,
        };
        Ok(Config {
            provider,
            model_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_embedded_provider() {
        let c = Config::from_lookup(|_| None).expect("defaults are valid");
        assert_eq!(c.provider, ProviderKind::Embedded);
        assert_eq!(c.model_dir, None);
    }

    #[test]
    fn rejects_an_unknown_provider_by_name() {
        let err = Config::from_lookup(|n| (n == "INTENT_PROVIDER").then(|| "gpt".to_owned()))
            .expect_err("unknown provider");
        assert!(err.to_string().contains("INTENT_PROVIDER"));
    }
}
