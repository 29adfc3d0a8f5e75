//! The chat port on Amazon Bedrock Converse.
// Placeholder API until the client lands.
use async_trait::async_trait;

use super::generative::{ChatModel, ModelAnswer, StructuredCall, UpstreamError};

pub enum BedrockOutput {
    Tool,
    JsonSchema,
}
pub struct Guardrail {
    pub identifier: String,
    pub version: String,
}
pub struct BedrockSettings {
    pub model_id: String,
    pub output: BedrockOutput,
    pub guardrail: Option<Guardrail>,
}
pub struct BedrockChat(BedrockSettings);
impl BedrockChat {
    pub fn new(_sdk: &aws_config::SdkConfig, s: BedrockSettings) -> BedrockChat {
        let _ = (
            &s.output,
            &s.guardrail.as_ref().map(|g| (&g.identifier, &g.version)),
        );
        BedrockChat(s)
    }
}
#[async_trait]
impl ChatModel for BedrockChat {
    fn provider(&self) -> &'static str {
        "bedrock"
    }
    fn model(&self) -> &str {
        &self.0.model_id
    }
    async fn call(&self, _: &StructuredCall<'_>) -> Result<ModelAnswer, UpstreamError> {
        Err(UpstreamError::Timeout)
    }
}
