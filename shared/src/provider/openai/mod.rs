//! The chat port on any OpenAI-compatible `POST {base}/chat/completions` server.
// Placeholder API until the client lands.
use async_trait::async_trait;

use super::generative::{ChatModel, ModelAnswer, StructuredCall, UpstreamError};

#[derive(Debug)]
pub struct ApiKey(String);
impl ApiKey {
    pub fn new(s: String) -> ApiKey {
        ApiKey(s)
    }
}
pub enum ResponseFormat {
    JsonSchema,
    JsonObject,
}
pub struct OpenAiSettings {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    pub response_format: ResponseFormat,
}
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct OpenAiConfigError;
pub struct OpenAiChat(OpenAiSettings);
impl OpenAiChat {
    pub fn new(s: OpenAiSettings) -> Result<OpenAiChat, OpenAiConfigError> {
        let _ = (
            &s.base_url,
            &s.api_key.as_ref().map(|k| &k.0),
            &s.response_format,
        );
        Ok(OpenAiChat(s))
    }
}
#[async_trait]
impl ChatModel for OpenAiChat {
    fn provider(&self) -> &'static str {
        "openai"
    }
    fn model(&self) -> &str {
        &self.0.model
    }
    async fn call(&self, _: &StructuredCall<'_>) -> Result<ModelAnswer, UpstreamError> {
        Err(UpstreamError::Timeout)
    }
}
