//! Typed configuration, read once per cold start from the environment. A bad or missing value
//! stops the cold start with a message naming the variable, instead of surfacing later as a 500.

use std::path::PathBuf;
use std::time::Duration;

/// Which engine answers the intents (`INTENT_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Embedded,
    Bedrock,
    OpenAi,
}

/// A secret read from the environment. Its `Debug` never shows the value, so a config dump in a
/// log line cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that sends it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How Bedrock is asked for structured output (`BEDROCK_OUTPUT_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BedrockOutputMode {
    /// `tool` (default): a forced tool call whose input schema is the intent's schema (Claude,
    /// Nova, Llama, Mistral Large).
    Tool,
    /// `json_schema`: native JSON-schema output (`outputConfig.textFormat`) for models that have it.
    JsonSchema,
}

/// `INTENT_PROVIDER=bedrock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockConfig {
    /// `BEDROCK_MODEL_ID`: a model id or an inference profile id/ARN.
    pub model_id: String,
    pub output: BedrockOutputMode,
    /// `BEDROCK_GUARDRAIL_ID` and `BEDROCK_GUARDRAIL_VERSION`, both or neither.
    pub guardrail: Option<(String, String)>,
}

/// Where the OpenAI-compatible API key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenAiKeySource {
    /// No key: local servers (Ollama, llama.cpp, vLLM) usually need none.
    None,
    /// `OPENAI_API_KEY`, for local use.
    Plain(Secret),
    /// `OPENAI_API_KEY_SECRET_ARN`: read from AWS Secrets Manager once per cold start.
    SecretArn(String),
}

/// `OPENAI_RESPONSE_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiResponseFormat {
    /// `json_schema` (default): strict structured output.
    JsonSchema,
    /// `json_object`: for servers without JSON-schema support; the schema goes in the prompt.
    JsonObject,
}

/// `INTENT_PROVIDER=openai`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// `OPENAI_BASE_URL`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// `OPENAI_MODEL`.
    pub model: String,
    pub key: OpenAiKeySource,
    pub response_format: OpenAiResponseFormat,
}

/// Everything a generative provider needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerativeConfig {
    Bedrock(BedrockConfig),
    OpenAi(OpenAiConfig),
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

/// `EMBEDDING_CACHE_MB` when unset (see [`Config::embedding_cache_bytes`]).
pub const DEFAULT_EMBEDDING_CACHE_MB: u64 = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub provider: ProviderKind,
    /// The generative provider's settings; `None` for the embedded provider.
    pub generative: Option<GenerativeConfig>,
    /// `PROVIDER_FALLBACK=embedded`: answer from the embedded engine when the generative provider
    /// is throttled, unavailable or too slow. Off by default.
    pub fallback_to_embedded: bool,
    /// `PROVIDER_TIMEOUT_MS` (1000–28000, default 25000): the request's deadline for a generative
    /// call and its repair, below API Gateway's 29 s integration timeout. The function's own
    /// remaining time shortens it further.
    pub provider_timeout: Duration,
    /// Directory of the embedding model (`MODEL_DIR`); `None` runs the classic engine alone.
    pub model_dir: Option<PathBuf>,
    /// `EMBEDDING_CACHE_MB` (0–1024, default 64; 0 disables): the most memory the warm
    /// environment's embedding cache may take, in bytes. 64 MiB holds about 38,000 texts (a
    /// 384-float vector and its key is ~1.6 KB), far more than a label set or catalogue a client
    /// resends, and is small beside the intent functions' 1024 MB (peak RSS with the model is
    /// ~190 MiB). The upper bound stops a typo from reserving more than the function has.
    pub embedding_cache_bytes: usize,
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
    /// `MAX_INPUT_TOKENS` (default [`DEFAULT_MAX_INPUT_TOKENS`]; 0 turns the cap off, otherwise
    /// 100–2,000,000): the most input tokens a request may send a generative model, estimated
    /// before any call. `None` when off.
    pub max_input_tokens: Option<u64>,
}

/// The default per-request cap on a generative model's input tokens: about 80,000 characters of
/// English, every synchronous route's usual input, while a runaway input is refused for free.
pub const DEFAULT_MAX_INPUT_TOKENS: u64 = 20_000;

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
            Some("bedrock") => ProviderKind::Bedrock,
            Some("openai") => ProviderKind::OpenAi,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "INTENT_PROVIDER",
                    value: other.to_owned(),
                    expected: "one of: embedded, bedrock, openai",
                });
            }
        };
        let generative = match provider {
            ProviderKind::Embedded => None,
            ProviderKind::Bedrock => Some(GenerativeConfig::Bedrock(bedrock(&get)?)),
            ProviderKind::OpenAi => Some(GenerativeConfig::OpenAi(openai(&get)?)),
        };
        let fallback_to_embedded = match get("PROVIDER_FALLBACK").as_deref() {
            None | Some("none") => false,
            Some("embedded") if provider != ProviderKind::Embedded => true,
            Some("embedded") => {
                return Err(ConfigError::Invalid {
                    name: "PROVIDER_FALLBACK",
                    value: "embedded".to_owned(),
                    expected: "none while INTENT_PROVIDER is embedded (it cannot fall back to itself)",
                });
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "PROVIDER_FALLBACK",
                    value: other.to_owned(),
                    expected: "embedded or none",
                });
            }
        };
        let provider_timeout =
            Duration::from_millis(number(&get, "PROVIDER_TIMEOUT_MS", 25_000, 1_000, 28_000)?);
        let request_log_table = get("REQUEST_LOG_TABLE").ok_or(ConfigError::Missing {
            name: "REQUEST_LOG_TABLE",
            why: "every request is logged to this DynamoDB table",
        })?;
        let request_log_ttl_days = number(&get, "REQUEST_LOG_TTL_DAYS", 30, 1, 3650)? as u32;
        let budget_ms = number(&get, "REQUEST_LOG_BUDGET_MS", 300, 10, 5000)?;
        let embedding_cache_mb = match get("EMBEDDING_CACHE_MB") {
            None => DEFAULT_EMBEDDING_CACHE_MB,
            Some(v) => match v.parse::<u64>() {
                Ok(mb) if mb <= 1024 => mb,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "EMBEDDING_CACHE_MB",
                        value: v,
                        expected: "a whole number of megabytes from 0 (no cache) to 1024",
                    });
                }
            },
        };
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
        let max_input_tokens = match get("MAX_INPUT_TOKENS") {
            None => Some(DEFAULT_MAX_INPUT_TOKENS),
            Some(v) => match v.parse::<u64>() {
                Ok(0) => None,
                Ok(n) if (100..=2_000_000).contains(&n) => Some(n),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "MAX_INPUT_TOKENS",
                        value: v,
                        expected: "0 (no cap) or a whole number of tokens from 100 to 2000000",
                    });
                }
            },
        };
        Ok(Config {
            provider,
            generative,
            fallback_to_embedded,
            provider_timeout,
            model_dir: get("MODEL_DIR").map(PathBuf::from),
            // At most 1 GiB, so the product fits usize on every supported target.
            embedding_cache_bytes: (embedding_cache_mb << 20) as usize,
            request_log_table,
            feedback_table: get("FEEDBACK_TABLE"),
            request_log_ttl_days,
            request_log_budget: Duration::from_millis(budget_ms),
            request_log_include_input,
            max_input_tokens,
        })
    }
}

fn bedrock(get: &impl Fn(&str) -> Option<String>) -> Result<BedrockConfig, ConfigError> {
    let model_id = get("BEDROCK_MODEL_ID").ok_or(ConfigError::Missing {
        name: "BEDROCK_MODEL_ID",
        why: "INTENT_PROVIDER=bedrock needs the model or inference profile to call",
    })?;
    if model_id.chars().any(char::is_whitespace) || model_id.len() > 2048 {
        return Err(ConfigError::Invalid {
            name: "BEDROCK_MODEL_ID",
            value: model_id,
            expected: "a Bedrock model id, inference profile id or ARN (no spaces)",
        });
    }
    let output = match get("BEDROCK_OUTPUT_MODE").as_deref() {
        None | Some("tool") => BedrockOutputMode::Tool,
        Some("json_schema") => BedrockOutputMode::JsonSchema,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "BEDROCK_OUTPUT_MODE",
                value: other.to_owned(),
                expected: "tool or json_schema",
            });
        }
    };
    let guardrail = match (
        get("BEDROCK_GUARDRAIL_ID"),
        get("BEDROCK_GUARDRAIL_VERSION"),
    ) {
        (None, None) => None,
        (Some(id), Some(version)) => Some((id, version)),
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                name: "BEDROCK_GUARDRAIL_VERSION",
                why: "a guardrail is applied by identifier and version together",
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                name: "BEDROCK_GUARDRAIL_ID",
                why: "a guardrail is applied by identifier and version together",
            });
        }
    };
    Ok(BedrockConfig {
        model_id,
        output,
        guardrail,
    })
}

fn openai(get: &impl Fn(&str) -> Option<String>) -> Result<OpenAiConfig, ConfigError> {
    let base_url = get("OPENAI_BASE_URL").ok_or(ConfigError::Missing {
        name: "OPENAI_BASE_URL",
        why: "INTENT_PROVIDER=openai needs the server's base URL, e.g. https://api.openai.com/v1",
    })?;
    let host = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if !matches!(host, Some(h) if !h.is_empty()) || base_url.chars().any(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            name: "OPENAI_BASE_URL",
            value: base_url,
            expected: "an absolute http:// or https:// URL",
        });
    }
    let model = get("OPENAI_MODEL").ok_or(ConfigError::Missing {
        name: "OPENAI_MODEL",
        why: "INTENT_PROVIDER=openai needs the model name the server knows",
    })?;
    let key = match (get("OPENAI_API_KEY"), get("OPENAI_API_KEY_SECRET_ARN")) {
        (None, None) => OpenAiKeySource::None,
        (Some(key), None) => OpenAiKeySource::Plain(Secret::new(key)),
        (None, Some(arn)) => {
            if !(arn.starts_with("arn:") && arn.contains(":secretsmanager:")) {
                return Err(ConfigError::Invalid {
                    name: "OPENAI_API_KEY_SECRET_ARN",
                    value: arn,
                    expected: "the ARN of a Secrets Manager secret (arn:...:secretsmanager:...)",
                });
            }
            OpenAiKeySource::SecretArn(arn)
        }
        (Some(_), Some(_)) => {
            // The value of OPENAI_API_KEY is never echoed.
            return Err(ConfigError::Invalid {
                name: "OPENAI_API_KEY_SECRET_ARN",
                value: "(set together with OPENAI_API_KEY)".to_owned(),
                expected: "either OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN, not both",
            });
        }
    };
    let response_format = match get("OPENAI_RESPONSE_FORMAT").as_deref() {
        None | Some("json_schema") => OpenAiResponseFormat::JsonSchema,
        Some("json_object") => OpenAiResponseFormat::JsonObject,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "OPENAI_RESPONSE_FORMAT",
                value: other.to_owned(),
                expected: "json_schema or json_object",
            });
        }
    };
    Ok(OpenAiConfig {
        base_url: base_url.trim_end_matches('/').to_owned(),
        model,
        key,
        response_format,
    })
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
        assert_eq!(c.embedding_cache_bytes, 64 << 20);
    }

    #[test]
    fn reads_the_embedding_cache_size_and_zero_disables_it() {
        let with = |v: &str| {
            Config::from_lookup(env(&[
                ("REQUEST_LOG_TABLE", "t"),
                ("EMBEDDING_CACHE_MB", v),
            ]))
        };
        assert_eq!(with("16").expect("valid").embedding_cache_bytes, 16 << 20);
        assert_eq!(with("0").expect("valid").embedding_cache_bytes, 0);
        assert_eq!(with("1024").expect("valid").embedding_cache_bytes, 1 << 30);
        for bad in ["1025", "-1", "64MB", "1.5", "lots"] {
            let err = with(bad).expect_err("invalid cache size");
            assert_eq!(
                err,
                ConfigError::Invalid {
                    name: "EMBEDDING_CACHE_MB",
                    value: bad.to_owned(),
                    expected: "a whole number of megabytes from 0 (no cache) to 1024",
                }
            );
        }
    }

    #[test]
    fn the_input_token_cap_defaults_can_be_turned_off_and_rejects_nonsense() {
        let cap = |v: Option<&str>| {
            let mut pairs = vec![("REQUEST_LOG_TABLE", "t")];
            if let Some(v) = v {
                pairs.push(("MAX_INPUT_TOKENS", v));
            }
            Config::from_lookup(env(&pairs)).map(|c| c.max_input_tokens)
        };
        assert_eq!(cap(None), Ok(Some(DEFAULT_MAX_INPUT_TOKENS)));
        assert_eq!(cap(Some("0")), Ok(None));
        assert_eq!(cap(Some("50000")), Ok(Some(50_000)));
        for bad in ["-1", "20k", "99", "2000001", "1e5"] {
            let err = cap(Some(bad)).expect_err(bad);
            assert!(err.to_string().contains("MAX_INPUT_TOKENS"), "{err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
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
    fn reads_a_bedrock_provider_with_guardrail_and_fallback() {
        let c = Config::from_lookup(env(&[
            ("REQUEST_LOG_TABLE", "t"),
            ("INTENT_PROVIDER", "bedrock"),
            (
                "BEDROCK_MODEL_ID",
                "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            ),
            ("BEDROCK_GUARDRAIL_ID", "gr-1"),
            ("BEDROCK_GUARDRAIL_VERSION", "2"),
            ("PROVIDER_FALLBACK", "embedded"),
        ]))
        .expect("valid");
        assert_eq!(c.provider, ProviderKind::Bedrock);
        assert!(c.fallback_to_embedded);
        assert_eq!(c.provider_timeout, Duration::from_secs(25));
        let Some(GenerativeConfig::Bedrock(b)) = c.generative else {
            panic!("bedrock config expected");
        };
        assert_eq!(b.output, BedrockOutputMode::Tool);
        assert_eq!(b.guardrail, Some(("gr-1".into(), "2".into())));
    }

    #[test]
    fn reads_an_openai_provider_and_never_shows_its_key() {
        let c = Config::from_lookup(env(&[
            ("REQUEST_LOG_TABLE", "t"),
            ("INTENT_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/"),
            ("OPENAI_MODEL", "llama3.2"),
            ("OPENAI_API_KEY", "sk-very-secret"),
            ("OPENAI_RESPONSE_FORMAT", "json_object"),
        ]))
        .expect("valid");
        assert!(!format!("{c:?}").contains("sk-very-secret"));
        let Some(GenerativeConfig::OpenAi(o)) = c.generative else {
            panic!("openai config expected");
        };
        assert_eq!(o.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(o.response_format, OpenAiResponseFormat::JsonObject);
        assert_eq!(
            o.key,
            OpenAiKeySource::Plain(Secret::new("sk-very-secret".into()))
        );
    }

    #[test]
    fn a_missing_or_malformed_provider_setting_names_its_variable() {
        let base = [("REQUEST_LOG_TABLE", "t")];
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("INTENT_PROVIDER", "bedrock")], "BEDROCK_MODEL_ID"),
            (
                &[
                    ("INTENT_PROVIDER", "bedrock"),
                    ("BEDROCK_MODEL_ID", "m"),
                    ("BEDROCK_OUTPUT_MODE", "xml"),
                ],
                "BEDROCK_OUTPUT_MODE",
            ),
            (
                &[
                    ("INTENT_PROVIDER", "bedrock"),
                    ("BEDROCK_MODEL_ID", "m"),
                    ("BEDROCK_GUARDRAIL_ID", "g"),
                ],
                "BEDROCK_GUARDRAIL_VERSION",
            ),
            (&[("INTENT_PROVIDER", "openai")], "OPENAI_BASE_URL"),
            (
                &[
                    ("INTENT_PROVIDER", "openai"),
                    ("OPENAI_BASE_URL", "api.openai.com"),
                    ("OPENAI_MODEL", "m"),
                ],
                "OPENAI_BASE_URL",
            ),
            (
                &[
                    ("INTENT_PROVIDER", "openai"),
                    ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                ],
                "OPENAI_MODEL",
            ),
            (
                &[
                    ("INTENT_PROVIDER", "openai"),
                    ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                    ("OPENAI_MODEL", "m"),
                    ("OPENAI_API_KEY_SECRET_ARN", "my-secret"),
                ],
                "OPENAI_API_KEY_SECRET_ARN",
            ),
            (
                &[
                    ("INTENT_PROVIDER", "openai"),
                    ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                    ("OPENAI_MODEL", "m"),
                    ("OPENAI_API_KEY", "sk-x"),
                    (
                        "OPENAI_API_KEY_SECRET_ARN",
                        "arn:aws:secretsmanager:us-east-1:000000000000:secret:k",
                    ),
                ],
                "OPENAI_API_KEY_SECRET_ARN",
            ),
            (&[("PROVIDER_FALLBACK", "embedded")], "PROVIDER_FALLBACK"),
            (&[("PROVIDER_TIMEOUT_MS", "60000")], "PROVIDER_TIMEOUT_MS"),
        ];
        for (pairs, variable) in cases {
            let all: Vec<(&str, &str)> = base.iter().chain(pairs.iter()).copied().collect();
            let err = Config::from_lookup(env(&all)).expect_err("invalid configuration");
            let text = err.to_string();
            assert!(text.contains(variable), "{variable}: {text}");
            assert!(!text.contains("sk-x"), "{text}");
        }
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
