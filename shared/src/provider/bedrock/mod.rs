//! The chat port on Amazon Bedrock Converse: one structured-output call per [`StructuredCall`],
//! and one ConverseStream call per streamed [`TextCall`].
//!
//! Structured output comes either from a forced tool (the default; Anthropic Claude and Amazon
//! Nova support it) or, for models that have it, from Converse's native JSON-schema output. The
//! client is built once per execution environment from the caller's `SdkConfig`, so the endpoint
//! (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` for a local stand-in), region and credentials all come from
//! the standard chain; nothing is hard-coded here.
//!
//! Time: each call gets the request's remaining time as the SDK's operation timeout (so the SDK
//! stops retrying in time), plus a `timeout_at` on the deadline as a backstop. Retries: at most
//! two attempts, because a model call is slow and the request has one deadline for the call and
//! its repair. A stream is bounded the same way until its response has arrived; the SDK's
//! operation timeout ends there (the event stream is read after the operation has returned), so
//! the answer itself may run past the deadline, bounded by the stream's consumer.
//!
//! # Layout
//! - [`request`]: the call → the Converse request parts.
//! - [`answer`]: the Converse answer → [`ModelAnswer`] (content, stop reason, usage).
//! - [`stream`]: the ConverseStream events → the port's [`TextStream`].
//! - [`errors`]: SDK failures, before the answer or in the stream → [`UpstreamError`].
//! - [`document`]: JSON ⇄ the Smithy document type used by tool schemas and tool inputs.

mod answer;
mod document;
mod errors;
mod request;
mod stream;

#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::timeout::TimeoutConfig;

use super::generative::{
    ChatModel, ModelAnswer, StructuredCall, TextCall, TextStream, UpstreamError,
};

/// How a deployment uses Bedrock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockSettings {
    /// Model id, inference profile id or ARN, as Converse takes it.
    pub model_id: String,
    pub output: BedrockOutput,
    pub guardrail: Option<Guardrail>,
}

/// How the model is made to answer with JSON that follows the intent's schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BedrockOutput {
    /// A single tool whose input schema is the answer's schema, and a tool choice that forces it.
    #[default]
    Tool,
    /// Converse's native `outputConfig.textFormat` JSON schema, for models that have it.
    JsonSchema,
}

/// A Bedrock guardrail applied to every call. Guardrails do not screen `toolUse.input`, so in tool
/// mode they see the prompt only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardrail {
    pub identifier: String,
    pub version: String,
}

/// At most two SDK attempts: one retry for a throttle or a transient failure, no more, since each
/// attempt can take seconds and the request's deadline also has to fit a repair call.
const MAX_ATTEMPTS: u32 = 2;

/// The one backoff before the retry is drawn from `[0, INITIAL_BACKOFF)`: long enough to step out
/// of a burst, short against a model call.
const INITIAL_BACKOFF: Duration = Duration::from_millis(250);

/// Connecting (TCP and TLS) to a regional endpoint takes tens of milliseconds; past a second the
/// endpoint is unreachable and the one retry is better spent on a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The Bedrock chat port. Build once per execution environment and share.
#[derive(Debug, Clone)]
pub struct BedrockChat {
    client: Client,
    settings: BedrockSettings,
}

impl BedrockChat {
    /// A client on the endpoint, region and credentials of `sdk`, with this port's retry and
    /// timeout policy. Give `sdk` the workspace's HTTPS client
    /// ([`crate::store::dynamo::https_client`]); it is not replaced here.
    pub fn new(sdk: &aws_config::SdkConfig, settings: BedrockSettings) -> BedrockChat {
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(INITIAL_BACKOFF),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            .build();
        BedrockChat {
            client: Client::from_conf(config),
            settings,
        }
    }
}

#[async_trait]
impl ChatModel for BedrockChat {
    fn provider(&self) -> &'static str {
        "bedrock"
    }

    fn model(&self) -> &str {
        &self.settings.model_id
    }

    async fn call(&self, call: &StructuredCall<'_>) -> Result<ModelAnswer, UpstreamError> {
        let remaining = call.deadline.remaining();
        if remaining.is_zero() {
            return Err(UpstreamError::Timeout);
        }
        let parts =
            request::converse_request(call, self.settings.output, self.settings.guardrail.as_ref())
                .map_err(|e| {
                    UpstreamError::Misconfigured(format!("building the Converse request: {e}"))
                })?;

        let send = self
            .client
            .converse()
            .model_id(&self.settings.model_id)
            .set_system(Some(parts.system))
            .set_messages(Some(parts.messages))
            .inference_config(parts.inference)
            .set_tool_config(parts.tools)
            .set_output_config(parts.output)
            .set_guardrail_config(parts.guardrail)
            .customize()
            .config_override(within(remaining))
            .send();

        let output = before_deadline(call.deadline, send).await?;
        answer::model_answer(&output, self.settings.output, &self.settings.model_id)
    }

    async fn stream_text(&self, call: &TextCall<'_>) -> Result<TextStream, UpstreamError> {
        let remaining = call.deadline.remaining();
        if remaining.is_zero() {
            return Err(UpstreamError::Timeout);
        }
        let parts = request::converse_stream_request(call, self.settings.guardrail.as_ref())
            .map_err(|e| {
                UpstreamError::Misconfigured(format!("building the ConverseStream request: {e}"))
            })?;

        // The operation ends when the response's headers have arrived (the SDK hands over the
        // event stream unread), so this timeout bounds the start only, never the answer.
        let send = self
            .client
            .converse_stream()
            .model_id(&self.settings.model_id)
            .set_system(Some(parts.system))
            .set_messages(Some(parts.messages))
            .inference_config(parts.inference)
            .set_guardrail_config(parts.guardrail)
            .customize()
            .config_override(within(remaining))
            .send();

        let output = before_deadline(call.deadline, send).await?;
        Ok(stream::text_stream(output, &self.settings.model_id))
    }
}

/// The per-call override that makes the SDK (its retries included) give up after `remaining`.
/// Unset fields (the connect timeout) keep the client's values: the SDK merges timeout configs
/// field by field.
fn within(remaining: Duration) -> aws_sdk_bedrockruntime::config::Builder {
    aws_sdk_bedrockruntime::config::Builder::default().timeout_config(
        TimeoutConfig::builder()
            .operation_timeout(remaining)
            .build(),
    )
}

/// Awaits an SDK call with a backstop: whatever the SDK does with its own operation timeout, the
/// call ends at the deadline; its failures are classified for the port.
async fn before_deadline<T, E>(
    deadline: crate::provider::Deadline,
    send: impl std::future::Future<
        Output = Result<
            T,
            aws_sdk_bedrockruntime::error::SdkError<
                E,
                aws_sdk_bedrockruntime::config::http::HttpResponse,
            >,
        >,
    >,
) -> Result<T, UpstreamError>
where
    E: aws_sdk_bedrockruntime::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match tokio::time::timeout_at(deadline.instant(), send).await {
        Err(_elapsed) => Err(UpstreamError::Timeout),
        Ok(Err(err)) => Err(errors::classify(&err)),
        Ok(Ok(output)) => Ok(output),
    }
}
