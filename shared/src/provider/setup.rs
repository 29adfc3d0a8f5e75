//! Builds the configured provider once per cold start: the embedded engine (with the embedding
//! model when `MODEL_DIR` is set, behind the `EMBEDDING_CACHE_MB` cache), or a generative provider on Bedrock or an OpenAI-compatible
//! server, optionally with the embedded engine behind it as a fallback.
//!
//! Every failure here stops the cold start with a message naming the variable to fix, so a
//! misconfigured function never serves a request.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::BehaviorVersion;

use super::SharedProvider;
use super::bedrock::{BedrockChat, BedrockOutput, BedrockSettings, Guardrail};
use super::embedded::EmbeddedProvider;
use super::fallback::FallbackProvider;
use super::generative::{ChatModel, GenerativeProvider};
use super::openai::{ApiKey, OpenAiChat, OpenAiSettings, ResponseFormat};
use crate::config::{BedrockOutputMode, GenerativeConfig, OpenAiKeySource, OpenAiResponseFormat};
use crate::embed::{CachedEmbedder, EmbedError, Embedder};
use crate::store::dynamo::https_client;

/// Longest the cold start waits for the API key from Secrets Manager.
const SECRET_TIMEOUT: Duration = Duration::from_secs(5);

/// The intent engine a function serves with. `cache_bytes` bounds the embedding cache (0: no
/// cache).
pub async fn intent_provider<E, F>(
    generative: Option<&GenerativeConfig>,
    fallback_to_embedded: bool,
    max_input_tokens: Option<u64>,
    model_dir: Option<&Path>,
    cache_bytes: usize,
    load: F,
) -> anyhow::Result<SharedProvider>
where
    E: Embedder + 'static,
    F: FnOnce(&Path) -> Result<E, EmbedError>,
{
    let Some(generative) = generative else {
        return embedded(model_dir, cache_bytes, load);
    };
    // The cap guards what a model call costs; the embedded engine bills nothing and bounds its
    // own work (each passage is cut to the model's window), so it has none.
    let primary: SharedProvider = Arc::new(
        GenerativeProvider::new(chat_model(generative).await?)
            .with_max_input_tokens(max_input_tokens),
    );
    if !fallback_to_embedded {
        return Ok(primary);
    }
    Ok(Arc::new(FallbackProvider::new(
        primary,
        embedded(model_dir, cache_bytes, load)?,
    )))
}

/// The embedded engine, hybrid when `MODEL_DIR` holds the model. The model is wrapped in the
/// embedding cache even when it is disabled (0 bytes), so every request reports its cache hits
/// and misses the same way.
fn embedded<E, F>(
    model_dir: Option<&Path>,
    cache_bytes: usize,
    load: F,
) -> anyhow::Result<SharedProvider>
where
    E: Embedder + 'static,
    F: FnOnce(&Path) -> Result<E, EmbedError>,
{
    let Some(dir) = model_dir else {
        return Ok(Arc::new(EmbeddedProvider::new()));
    };
    let started = Instant::now();
    let model = load(dir).with_context(|| {
        format!(
            "loading the embedding model from MODEL_DIR={}",
            dir.display()
        )
    })?;
    tracing::info!(
        load_ms = started.elapsed().as_millis() as u64,
        embedding_cache_bytes = cache_bytes,
        "embedding model loaded"
    );
    Ok(Arc::new(EmbeddedProvider::with_embedder(Arc::new(
        CachedEmbedder::new(model, cache_bytes),
    ))))
}

/// The chat port of the configured upstream.
pub async fn chat_model(config: &GenerativeConfig) -> anyhow::Result<Arc<dyn ChatModel>> {
    match config {
        GenerativeConfig::Bedrock(b) => {
            let sdk = sdk_config().await;
            let settings = BedrockSettings {
                model_id: b.model_id.clone(),
                output: match b.output {
                    BedrockOutputMode::Tool => BedrockOutput::Tool,
                    BedrockOutputMode::JsonSchema => BedrockOutput::JsonSchema,
                },
                guardrail: b.guardrail.as_ref().map(|(identifier, version)| Guardrail {
                    identifier: identifier.clone(),
                    version: version.clone(),
                }),
            };
            Ok(Arc::new(BedrockChat::new(&sdk, settings)))
        }
        GenerativeConfig::OpenAi(o) => {
            let api_key = match &o.key {
                OpenAiKeySource::None => None,
                OpenAiKeySource::Plain(secret) => Some(ApiKey::new(secret.expose().to_owned())),
                OpenAiKeySource::SecretArn(arn) => Some(secret_api_key(arn).await?),
            };
            let settings = OpenAiSettings {
                base_url: o.base_url.clone(),
                model: o.model.clone(),
                api_key,
                response_format: match o.response_format {
                    OpenAiResponseFormat::JsonSchema => ResponseFormat::JsonSchema,
                    OpenAiResponseFormat::JsonObject => ResponseFormat::JsonObject,
                },
            };
            let chat = OpenAiChat::new(settings).context(
                "configuring the OpenAI-compatible provider (OPENAI_BASE_URL, OPENAI_MODEL)",
            )?;
            Ok(Arc::new(chat))
        }
    }
}

/// The SDK configuration from the standard chain (region, credentials, `AWS_ENDPOINT_URL_*`),
/// on the one HTTPS client every SDK client here uses.
async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// Reads the API key from Secrets Manager (`OPENAI_API_KEY_SECRET_ARN`). The secret is either
/// the key itself or a JSON object with an `api_key` (or `OPENAI_API_KEY`) member. Errors name
/// the variable and never contain the secret.
async fn secret_api_key(arn: &str) -> anyhow::Result<ApiKey> {
    let sdk = sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let answer = tokio::time::timeout(
        SECRET_TIMEOUT,
        client.get_secret_value().secret_id(arn).send(),
    )
    .await
    .context("OPENAI_API_KEY_SECRET_ARN: Secrets Manager did not answer in time")?
    .map_err(|e| {
        anyhow::anyhow!(
            "OPENAI_API_KEY_SECRET_ARN: reading the secret failed: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        )
    })?;
    let raw = answer
        .secret_string()
        .context("OPENAI_API_KEY_SECRET_ARN: the secret has no string value")?;
    api_key_from_secret(raw)
}

fn api_key_from_secret(raw: &str) -> anyhow::Result<ApiKey> {
    let raw = raw.trim();
    let key = if raw.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| {
            anyhow::anyhow!(
                "OPENAI_API_KEY_SECRET_ARN: the secret looks like JSON but does not parse"
            )
        })?;
        ["api_key", "OPENAI_API_KEY"]
            .iter()
            .find_map(|k| value.get(k).and_then(|v| v.as_str()))
            .map(str::to_owned)
            .context(
                "OPENAI_API_KEY_SECRET_ARN: the secret's JSON has no string member api_key or \
                 OPENAI_API_KEY",
            )?
    } else {
        raw.to_owned()
    };
    anyhow::ensure!(
        !key.trim().is_empty() && !key.contains(char::is_whitespace),
        "OPENAI_API_KEY_SECRET_ARN: the secret's key is empty or contains white space"
    );
    Ok(ApiKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hold_the_key_plain_or_as_json_and_errors_never_show_it() {
        assert!(api_key_from_secret("sk-abc").is_ok());
        assert!(api_key_from_secret("{\"api_key\": \"sk-abc\"}").is_ok());
        for bad in [
            "",
            "{\"key\": \"sk-secret-1\"}",
            "{not json sk-secret-1",
            "sk secret",
        ] {
            let err = api_key_from_secret(bad).expect_err("rejected");
            let text = format!("{err:#}");
            assert!(text.contains("OPENAI_API_KEY_SECRET_ARN"), "{text}");
            assert!(
                !text.contains("sk-secret-1") && !text.contains("sk secret"),
                "{text}"
            );
        }
    }
}
