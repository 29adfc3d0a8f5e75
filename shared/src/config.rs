//! Typed configuration, read once per cold start from the environment. A bad or missing value
//! stops the cold start with a message naming the variable, instead of surfacing later as a 500.

use std::path::PathBuf;
use std::time::Duration;

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
    /// `REQUEST_LOG_TABLE`: DynamoDB table for the request log (required).
    pub request_log_table: String,
    /// `FEEDBACK_TABLE`: DynamoDB table for feedback (required by the feedback function only).
    pub feedback_table: Option<String>,
    /// `REQUEST_LOG_TTL_DAYS` (1–3650, default 30).
    pub request_log_ttl_days: u32,
    /// `REQUEST_LOG_BUDGET_MS` (10–5000, default 300): the most time a request log write may take.
    /// On Lambda it runs after the response (see `after_response`), so this bounds billed time;
    /// without the Extensions API it is the most the write may add to a response.
    pub request_log_budget: Duration,
    /// `REQUEST_LOG_INCLUDE_INPUT` (`true`/`false`, default false): store request bodies in the
    /// log. Off by default because bodies hold users' text.
    pub request_log_include_input: bool,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Testable core of [`Config::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let provider = match get("INTENT_PROVIDER").as_deref() {
            None | Some("embedded") => ProviderKind::Embedded,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "INTENT_PROVIDER",
                    value: other.to_owned(),
                    expected: "one of: embedded",
                });
            }
        };
        let request_log_table = get("REQUEST_LOG_TABLE").ok_or(ConfigError::Missing {
            name: "REQUEST_LOG_TABLE",
            why: "every request is logged to this DynamoDB table",
        })?;
        let request_log_ttl_days = number(&get, "REQUEST_LOG_TTL_DAYS", 30, 1, 3650)? as u32;
        let budget_ms = number(&get, "REQUEST_LOG_BUDGET_MS", 300, 10, 5000)?;
        let request_log_include_input = match get("REQUEST_LOG_INCLUDE_INPUT").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "REQUEST_LOG_INCLUDE_INPUT",
                    value: other.to_owned(),
                    expected: "true or false",
                });
            }
        };
        Ok(Config {
            provider,
            model_dir: get("MODEL_DIR").map(PathBuf::from),
            request_log_table,
            feedback_table: get("FEEDBACK_TABLE"),
            request_log_ttl_days,
            request_log_budget: Duration::from_millis(budget_ms),
            request_log_include_input,
        })
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                value: v,
                expected: "a whole number in the documented range",
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_to_the_embedded_provider() {
        let c = Config::from_lookup(env(&[("REQUEST_LOG_TABLE", "log")])).expect("valid");
        assert_eq!(c.provider, ProviderKind::Embedded);
        assert_eq!(c.model_dir, None);
        assert_eq!(c.request_log_ttl_days, 30);
        assert!(!c.request_log_include_input);
    }

    #[test]
    fn a_missing_request_log_table_names_the_variable() {
        let err = Config::from_lookup(env(&[])).expect_err("table is required");
        assert!(err.to_string().contains("REQUEST_LOG_TABLE"));
    }

    #[test]
    fn rejects_an_unknown_provider_by_name() {
        let err = Config::from_lookup(env(&[
            ("REQUEST_LOG_TABLE", "t"),
            ("INTENT_PROVIDER", "gpt"),
        ]))
        .expect_err("unknown provider");
        assert!(err.to_string().contains("INTENT_PROVIDER"));
    }

    #[test]
    fn rejects_out_of_range_numbers_and_bad_booleans() {
        for (k, v) in [
            ("REQUEST_LOG_TTL_DAYS", "0"),
            ("REQUEST_LOG_BUDGET_MS", "abc"),
            ("REQUEST_LOG_INCLUDE_INPUT", "yes"),
        ] {
            let err = Config::from_lookup(env(&[("REQUEST_LOG_TABLE", "t"), (k, v)]))
                .expect_err("invalid value");
            assert!(err.to_string().contains(k), "{err}");
        }
    }
}
