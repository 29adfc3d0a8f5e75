//! Generative providers: a language model answers the intents through structured output.
//!
//! Two layers, so that each upstream is a thin adapter and the hard part is written once:
//! - the **chat port** ([`ChatModel`]): one structured-output call to one upstream (Bedrock
//!   Converse in [`crate::provider::bedrock`], any OpenAI-compatible server in
//!   [`crate::provider::openai`]). An adapter turns a [`StructuredCall`] into its wire request and
//!   the upstream's answer into a [`ModelAnswer`] or a classified [`UpstreamError`]; it never
//!   interprets the content.
//! - the **generative provider** ([`GenerativeProvider`]): implements [`crate::provider::Provider`]
//!   on top of any chat port. Per intent it owns a fixed JSON schema, the prompts, and the decoder
//!   that checks the model's answer against the task; it runs the call, checks the stop reason,
//!   decodes, and makes at most one repair call within the request's deadline, summing usage.
//!
//! # Layout
//! - [`structured`]: the call → stop reason → decode → one repair loop, and error mapping.
//! - [`intents`]: schema, prompts and decoder of each intent.
//! - [`pricing`]: the versioned price table behind `meta.cost_usd`.
//! - [`input_cap`]: the estimate of a prompt's input tokens and the per-request cap on it.
//! - [`spent_on_failure`]: what a failed request's model calls cost, for its request log item.

pub mod input_cap;
pub mod intents;
pub mod pricing;
pub mod spent_on_failure;
pub mod structured;

mod provider;
pub use provider::GenerativeProvider;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::Deadline;

/// The JSON schema an intent's answer must follow. Fixed per intent (never built per request), so
/// upstreams that compile a grammar per schema (Bedrock's and OpenAI's strict modes) do it once.
/// Written in the strict subset: every property required, `additionalProperties: false`, absent
/// values as `null`.
#[derive(Debug)]
pub struct OutputSchema {
    /// Tool or schema name sent upstream (`[a-zA-Z0-9_-]{1,64}`).
    pub name: &'static str,
    /// What the answer is, for the tool description.
    pub description: &'static str,
    pub schema: Value,
}

/// One structured-output call, independent of the upstream's wire format.
#[derive(Debug)]
pub struct StructuredCall<'a> {
    /// Intent name (`classify`, ...), for logs and metrics.
    pub intent: &'static str,
    /// The system prompt: the task and the rule that the delimited block is data.
    pub system: &'a str,
    /// The user turn: the caller's text inside its delimited block, plus the task's lists.
    pub user: &'a str,
    /// Present on the repair call: the rejected answer and what was wrong with it.
    pub repair: Option<Repair<'a>>,
    pub schema: &'a OutputSchema,
    /// Most output tokens for this call.
    pub max_tokens: u32,
    /// When the whole request must be answered; the call must give up before it.
    pub deadline: Deadline,
}

/// The second turn of a repair: what the model said and why it was rejected.
#[derive(Debug, Clone, Copy)]
pub struct Repair<'a> {
    /// The rejected answer exactly as the model produced it (JSON text).
    pub previous_answer: &'a str,
    /// The problems found, one per line, already capped in length.
    pub errors: &'a str,
}

/// Why the model stopped, normalised across upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The answer is complete (`end_turn`, `tool_use`, `stop`, `tool_calls`).
    Complete,
    /// Cut by the output token limit (`max_tokens`, `length`): never repaired, the answer is
    /// incomplete by construction.
    MaxTokens,
    /// The model declined (an OpenAI `refusal`, a content filter, a guardrail intervention).
    Refused(RefusalKind),
    /// Anything else the upstream reported (kept verbatim for the log), e.g. Bedrock's
    /// `model_context_window_exceeded`.
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The model itself refused.
    Model,
    /// The upstream's content filter stopped the answer.
    ContentFilter,
    /// A configured Bedrock guardrail intervened.
    Guardrail,
}

impl StopReason {
    /// The value written to the request log's `stop_reason`.
    pub fn as_str(&self) -> &str {
        match self {
            StopReason::Complete => "complete",
            StopReason::MaxTokens => "max_tokens",
            StopReason::Refused(RefusalKind::Model) => "refused",
            StopReason::Refused(RefusalKind::ContentFilter) => "content_filtered",
            StopReason::Refused(RefusalKind::Guardrail) => "guardrail_intervened",
            StopReason::Other(s) => s,
        }
    }
}

/// Tokens one call consumed, as the upstream reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    /// Prompt tokens served from the upstream's cache, where it reports them.
    pub cache_read: Option<u64>,
    /// Prompt tokens written to the upstream's cache, where it reports them.
    pub cache_write: Option<u64>,
}

impl TokenUsage {
    pub fn add(&mut self, other: TokenUsage) {
        fn sum(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            }
        }
        self.input += other.input;
        self.output += other.output;
        self.cache_read = sum(self.cache_read, other.cache_read);
        self.cache_write = sum(self.cache_write, other.cache_write);
    }
}

/// What the model produced.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerContent {
    /// Already-parsed JSON (a Bedrock tool-use input).
    Json(Value),
    /// Text that should hold one JSON document (OpenAI `content`, Bedrock native JSON output).
    Text(String),
    /// The model produced no usable content block at all.
    Empty,
}

/// One upstream answer, before its content is interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelAnswer {
    pub content: AnswerContent,
    pub stop: StopReason,
    pub usage: TokenUsage,
    /// The model that answered when the upstream says so (OpenAI `model`); else the configured id.
    pub model: Option<String>,
}

/// Why a call failed, classified so the HTTP status follows from the kind alone. Details are for
/// the log only: they may hold upstream text and never reach a client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// 429 / `ThrottlingException`: the caller should retry later.
    #[error("upstream throttled the call: {detail}")]
    Throttled {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// 503, not ready, connection refused or reset: transient.
    #[error("upstream unavailable: {detail}")]
    Unavailable {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// No answer before the deadline.
    #[error("upstream did not answer before the deadline")]
    Timeout,
    /// The upstream answered with something unusable: a model error, a 5xx, an HTML or non-JSON
    /// body, a body over the size limit, no choices.
    #[error("upstream answer unusable: {0}")]
    BadAnswer(String),
    /// Our side is wrong: access denied, unknown model, our request rejected as invalid, a bad key.
    #[error("provider misconfigured: {0}")]
    Misconfigured(String),
}

/// One free-text call whose answer is streamed as the model writes it.
#[derive(Debug, Clone, Copy)]
pub struct TextCall<'a> {
    pub intent: &'static str,
    pub system: &'a str,
    pub user: &'a str,
    pub max_tokens: u32,
    /// When the first byte of the answer must have arrived. The stream itself runs longer: its
    /// caller bounds the silence between pieces and the total time.
    pub deadline: Deadline,
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum TextEvent {
    /// More text, in order.
    Delta(String),
    /// The end: why the model stopped and what the whole call consumed. Always the last item of
    /// a stream that ends well; a stream that ends without it was cut.
    Finished {
        stop: StopReason,
        usage: TokenUsage,
        model: Option<String>,
    },
}

/// A streamed answer. Dropping it releases the upstream connection (the model stops writing).
pub type TextStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<TextEvent, UpstreamError>> + Send>>;

/// One upstream that can answer a [`StructuredCall`].
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// `bedrock` or `openai`: what `meta.provider` says.
    fn provider(&self) -> &'static str;
    /// The configured model id: what `meta.model` says and what the price table is keyed by.
    fn model(&self) -> &str;
    /// Makes the call. Must return before `call.deadline` (as [`UpstreamError::Timeout`]).
    async fn call(&self, call: &StructuredCall<'_>) -> Result<ModelAnswer, UpstreamError>;
    /// Starts a streamed free-text call. Returns once the upstream has accepted it (so that a
    /// refusal to start, such as throttling, is an error here, before any byte reaches the
    /// client); the pieces follow on the stream.
    async fn stream_text(&self, call: &TextCall<'_>) -> Result<TextStream, UpstreamError> {
        let _ = call;
        Err(UpstreamError::Misconfigured(format!(
            "the {} client cannot stream",
            self.provider()
        )))
    }
}
