//! The serde types of `POST /chat/completions`: what is sent and what is read back, and nothing
//! more. Conversion to and from the chat port's types lives in [`super::client`] (request) and
//! [`super::answer`] (answer), so there is one place per direction.
//!
//! Requests: every field is always meaningful, so none is ever written as `null` (compatible
//! servers reject unknown or `null` fields; the tests compare whole request bodies). Answers: unknown fields are ignored and optional ones may be missing or
//! `null`, because every server adds its own; but a field that is present with the wrong type
//! fails the parse (with its path), rather than being guessed at.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<RequestMessage<'a>>,
    /// Always 0: the answer is a structured document, not prose; sampling only adds variance.
    pub temperature: f32,
    pub max_tokens: u32,
    pub response_format: RequestResponseFormat<'a>,
}

/// A streamed free-text call: plain text (no `response_format`), sent as server-sent events.
#[derive(Debug, Serialize)]
pub(super) struct TextChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<RequestMessage<'a>>,
    /// Always 0, as for structured calls: the same input gives the same summary.
    pub temperature: f32,
    pub max_tokens: u32,
    /// Always `true`.
    pub stream: bool,
    pub stream_options: StreamOptions,
}

#[derive(Debug, Serialize)]
pub(super) struct StreamOptions {
    /// Always `true`: the last chunk before `[DONE]` then carries the usage of the whole call.
    pub include_usage: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct RequestMessage<'a> {
    pub role: Role,
    /// Owned only where the text is built (the system prompt with its schema, the repair turn).
    pub content: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Role {
    System,
    User,
    Assistant,
}

/// `{"type":"json_schema","json_schema":{…}}` or `{"type":"json_object"}`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum RequestResponseFormat<'a> {
    JsonSchema { json_schema: JsonSchemaFormat<'a> },
    JsonObject,
}

#[derive(Debug, Serialize)]
pub(super) struct JsonSchemaFormat<'a> {
    pub name: &'a str,
    pub strict: bool,
    pub schema: &'a Value,
}

// ---------------------------------------------------------------------------------------------
// Answer
// ---------------------------------------------------------------------------------------------

/// A non-streamed chat completion.
#[derive(Debug, Deserialize)]
pub(super) struct ChatCompletion {
    #[serde(default)]
    pub model: Option<String>,
    /// `null` and missing read as empty; the caller rejects an answer without choices.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// Some proxies answer 200 with an OpenAI error object instead of choices; kept (unparsed) so
    /// the log says what it was.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub message: Option<AnswerMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AnswerMessage {
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub refusal: Option<String>,
}

/// `content` as a string, or as an array of typed parts (`[{"type":"text","text":…}]`) as some
/// servers send it. Read by a hand-written visitor rather than an untagged enum, so that a bad
/// value reports its real path and reason instead of "did not match any variant".
#[derive(Debug, PartialEq)]
pub(super) enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct ContentPart {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// A part of type `refusal` carries the refusal here.
    #[serde(default)]
    pub refusal: Option<String>,
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Content, D::Error> {
        struct ContentVisitor;

        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Content, E> {
                Ok(Content::Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Content, E> {
                Ok(Content::Text(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
                let mut parts = Vec::new();
                while let Some(part) = seq.next_element::<ContentPart>()? {
                    parts.push(part);
                }
                Ok(Content::Parts(parts))
            }
        }

        deserializer.deserialize_any(ContentVisitor)
    }
}

/// One `data:` payload of a streamed answer (`chat.completion.chunk`). Text chunks carry
/// `choices[0].delta`; the last carries `finish_reason`; with `include_usage` a final one has
/// `usage` and empty `choices`.
#[derive(Debug, Deserialize)]
pub(super) struct ChatCompletionChunk {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// A failure reported inside the stream (the status was already 200); kept unparsed.
    #[serde(default)]
    pub error: Option<Value>,
    /// `"error"` where a server (older vLLM) writes the error object itself as the chunk.
    #[serde(default)]
    pub object: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChunkChoice {
    #[serde(default)]
    pub delta: Option<ChunkDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChunkDelta {
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PromptTokensDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}
