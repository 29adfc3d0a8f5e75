//! The chat port on any OpenAI-compatible `POST {base}/chat/completions` server (OpenAI, vLLM,
//! Ollama, llama.cpp server, LM Studio).
//!
//! A thin typed client on the HTTP/TLS stack the AWS SDK already links (hyper 1, hyper-rustls on
//! `ring`): one structured-output call per [`crate::provider::generative::StructuredCall`], bounded
//! by the request's deadline, its answer normalised into a
//! [`crate::provider::generative::ModelAnswer`] or a classified
//! [`crate::provider::generative::UpstreamError`]; and one streamed free-text call per
//! [`crate::provider::generative::TextCall`], as server-sent events read into a
//! [`crate::provider::generative::TextStream`]. The content itself is never interpreted here.
//!
//! # Layout
//! - this file: the settings (base URL, model, key, which `response_format` the server speaks),
//!   the secret [`ApiKey`] and the configuration error.
//! - `client`: [`OpenAiChat`], the HTTP client built once per cold start and the call itself.
//! - `wire`: the serde types of the request and the answer, exactly what crosses the wire.
//! - `answer`: [`parse_answer`], status + headers + body → answer or classified error; pure, so
//!   it is unit-tested and fuzzed without a server.
//! - `sse`: an incremental server-sent-events decoder (bytes in, in chunks cut anywhere; events
//!   out); pure.
//! - `stream`: a streamed text answer: each event read as a `chat.completion.chunk`, the chunks
//!   tallied into text deltas and one end (stop reason, usage, model), pulled from the response
//!   body only as the consumer asks, so dropping the stream closes the connection.

mod answer;
mod client;
mod sse;
mod stream;
mod wire;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

use std::fmt;

pub use answer::{
    AnswerHeaders, MAX_ANSWER_BYTES, MAX_DETAIL_CHARS, MAX_RETRY_AFTER, parse_answer,
};
pub use client::OpenAiChat;
pub use stream::{MAX_EVENT_BYTES, MAX_STREAM_BYTES};

/// How to reach one OpenAI-compatible server. Loaded once per cold start.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Up to and including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// Absent for servers without authentication (a local vLLM or Ollama).
    pub api_key: Option<ApiKey>,
    pub response_format: ResponseFormat,
}

/// Which structured-output mode the server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `{"type":"json_schema","json_schema":{name, strict: true, schema}}`: the server constrains
    /// the answer to the schema (OpenAI, vLLM, recent Ollama and llama.cpp).
    JsonSchema,
    /// `{"type":"json_object"}`: the server only guarantees some JSON object, so the schema is
    /// written into the system prompt instead.
    JsonObject,
}

/// The bearer key. Its `Debug` is redacted and it has no `Display`, so neither a settings dump,
/// a log line nor an error can carry it; only the client reads it, to build its header.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> ApiKey {
        ApiKey(key)
    }

    /// The key itself: private to this module, where only the `authorization` header is built.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Settings that cannot work, found at cold start instead of on the first request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenAiConfigError {
    #[error("openai base URL {url:?} is not an absolute http:// or https:// URL: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("openai model id is empty")]
    EmptyModel,
    /// A set but empty key is a mistake (a missing secret), not "no authentication": leave the key
    /// unset for servers that need none.
    #[error("openai API key is set but empty")]
    EmptyApiKey,
    /// Deliberately without the key or the offending character.
    #[error("openai API key holds characters not allowed in an HTTP header")]
    InvalidApiKey,
    /// The TLS configuration could not be built, e.g. no root certificates on the system.
    #[error("openai HTTPS client: {0}")]
    Tls(String),
}
