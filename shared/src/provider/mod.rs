//! The provider port: the one abstraction behind which an engine answers the intents.
//!
//! Intent code (in [`crate::intents`]) prepares a *task* (sentences already segmented, labels,
//! fields, candidates) and receives a *draft*: the provider's raw answer in plain Rust types. The
//! intent then checks the draft against the contract (indices in range, labels among the caller's,
//! values of the declared type, scores clamped) before anything reaches the client, because a
//! provider, and a generative model above all, is untrusted. No SDK type crosses this boundary.
//!
//! # Layout
//! - [`embedded`]: the default; the classic IR/NLP engine plus, when configured, an in-process
//!   sentence-embedding model. No network, no credentials.
//! - [`generative`]: a language model answers through structured output; the intent schemas,
//!   prompts, decoders and the repair loop, on top of a small chat port.
//! - [`bedrock`]: the chat port on Amazon Bedrock Converse.
//! - [`openai`]: the chat port on any OpenAI-compatible `chat/completions` server.
//! - [`fallback`]: a generative provider with the embedded engine behind it for transient failures.
//! - [`setup`]: builds the configured provider once per cold start.

pub mod bedrock;
pub mod embedded;
pub mod fallback;
pub mod generative;
pub mod openai;
pub mod setup;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::contract::Usage;
use crate::contract::extract::{FieldSpec, FieldValue};

/// Everything a provider can fail with. [`crate::intents`] maps each kind to its status: 429,
/// 503, 504, 502 (three kinds, each with its own problem type) or an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider throttled the request")]
    Throttled { retry_after_s: u64 },
    #[error("the provider is unavailable: {reason}")]
    Unavailable { reason: String, retry_after_s: u64 },
    #[error("the provider did not answer in time")]
    Timeout,
    /// The provider answered, but not with something usable (after the one allowed repair).
    #[error("{0}")]
    BadOutput(String),
    /// The answer was cut by the output token limit: incomplete by construction, never repaired.
    #[error("{0}")]
    Truncated(String),
    /// The model, a content filter or a guardrail declined to answer.
    #[error("{0}")]
    Refused(String),
    /// The request needs something this provider cannot do (an abstractive summary from the
    /// embedded engine): the caller's choice, so a 422 on `pointer`.
    #[error("{message}")]
    Unsupported {
        pointer: &'static str,
        message: String,
    },
    /// The request's estimated input is above the deployment's cap (`MAX_INPUT_TOKENS`); found
    /// before any model call, so nothing was spent.
    #[error("the input is estimated at {estimated} tokens; the limit is {limit}")]
    InputTooLarge { estimated: u64, limit: u64 },
    /// Our side is wrong (access denied, unknown model, a rejected key). Opaque to clients.
    #[error("the provider is misconfigured: {0}")]
    Misconfigured(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ProviderError {
    /// The failures a fallback engine may answer for: the upstream is busy, down or slow, which
    /// says nothing about the request itself.
    pub fn fallback_reason(&self) -> Option<&'static str> {
        match self {
            ProviderError::Throttled { .. } => Some("throttled"),
            ProviderError::Unavailable { .. } => Some("unavailable"),
            ProviderError::Timeout => Some("timeout"),
            _ => None,
        }
    }
}

/// The cause of the opaque 500 a [`ProviderError::Misconfigured`] becomes, typed so that metrics
/// still count it as the provider's failure.
#[derive(Debug, thiserror::Error)]
#[error("provider misconfigured: {0}")]
pub struct ProviderMisconfigured(pub String);

/// The instant by which a request must be answered: one per request, shared by a provider call
/// and its repair, set below API Gateway's 29 s and the function's own timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(tokio::time::Instant);

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline(tokio::time::Instant::now() + budget)
    }

    pub fn at(instant: tokio::time::Instant) -> Deadline {
        Deadline(instant)
    }

    pub fn instant(self) -> tokio::time::Instant {
        self.0
    }

    /// Time left, zero once passed.
    pub fn remaining(self) -> Duration {
        self.0
            .saturating_duration_since(tokio::time::Instant::now())
    }

    pub fn earliest(self, other: Deadline) -> Deadline {
        Deadline(self.0.min(other.0))
    }
}

/// A provider's answer with its accounting.
#[derive(Debug, Clone)]
pub struct Draft<T> {
    pub value: T,
    pub usage: Usage,
    /// How the answer was produced, when it differs from what the provider's own name, model and
    /// zero cost say (generative providers, a fallback).
    pub provenance: Option<Provenance>,
}

impl<T> Draft<T> {
    /// A draft with no provenance beyond the provider's own name and model.
    pub fn new(value: T, usage: Usage) -> Draft<T> {
        Draft {
            value,
            usage,
            provenance: None,
        }
    }
}

/// Who answered and what it cost: `meta` and the request log are built from this.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub provider: &'static str,
    pub model: String,
    /// Estimated charges (see [`generative::pricing`]); `None` for a model without a price.
    pub cost_usd: Option<f64>,
    /// Why the model stopped, normalised (`complete`, `max_tokens`, ...).
    pub stop_reason: Option<String>,
    /// Set when the embedded engine answered for a failing generative provider.
    pub fallback_reason: Option<&'static str>,
}

#[derive(Clone, Copy)]
pub struct SummarizeTask<'a> {
    /// The document's sentences, in order.
    pub sentences: &'a [&'a str],
    pub max_sentences: usize,
    pub focus: Option<&'a str>,
}

/// Chosen sentences as (index into `sentences`, salience); any order, salience any real number.
pub type SummarizeDraft = Vec<(usize, f32)>;

/// A summary in the model's own words, streamed as it is written: text pieces in order, then
/// [`generative::TextEvent::Finished`] with the stop reason and usage. Dropping it stops the
/// model.
pub type SummaryStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<generative::TextEvent, ProviderError>> + Send>,
>;

/// A summary in the model's own words, with the sentences (indices into the task's `sentences`)
/// it says support it.
#[derive(Debug, Clone, PartialEq)]
pub struct AbstractiveDraft {
    pub summary: String,
    pub sources: Vec<usize>,
}

#[derive(Clone, Copy)]
pub struct ClassifyTask<'a> {
    pub text: &'a str,
    /// (name, optional description) of each label, in request order.
    pub labels: &'a [(&'a str, Option<&'a str>)],
    pub multi_label: bool,
}

/// Score per label name. `calibrated` says whether scores are probabilities already.
#[derive(Debug, Clone)]
pub struct ClassifyDraft {
    pub scores: Vec<(String, f32)>,
    /// Threshold this provider's scores are calibrated for, used when the caller gives none.
    pub default_threshold: f32,
}

#[derive(Clone, Copy)]
pub struct ExtractTask<'a> {
    pub text: &'a str,
    pub fields: &'a [FieldSpec],
}

/// Where an extracted value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// Byte range of the request text.
    Bytes { start: usize, end: usize },
    /// A quotation of the text (generative providers); the intent locates it.
    Quote(String),
}

#[derive(Debug, Clone)]
pub struct ExtractedDraft {
    pub name: String,
    pub value: FieldValue,
    pub confidence: f32,
    pub evidence: Option<Evidence>,
}

/// Found fields; fields not found are simply absent.
pub type ExtractDraft = Vec<ExtractedDraft>;

#[derive(Clone, Copy)]
pub struct RecommendTask<'a> {
    pub profile_text: Option<&'a str>,
    /// Indices (into `items`) of items the user liked.
    pub liked: &'a [usize],
    /// (id, text including tags) of every candidate.
    pub items: &'a [(&'a str, String)],
    /// Indices of candidates that may be returned (not excluded, not liked).
    pub eligible: &'a [usize],
    pub limit: usize,
    pub diversity: f32,
}

#[derive(Debug, Clone)]
pub struct RecommendedDraft {
    pub id: String,
    pub score: f32,
    pub reason: String,
}

/// Ranked recommendations, best first.
pub type RecommendDraft = Vec<RecommendedDraft>;

#[derive(Clone, Copy)]
pub struct ScoreTask<'a> {
    pub query: &'a str,
    /// (id, text) of each document, in request order.
    pub documents: &'a [(&'a str, &'a str)],
}

/// Score per document id.
pub type ScoreDraft = Vec<(String, f32)>;

/// The port every engine implements. `deadline` is the request's: an engine that calls out must
/// answer (or give up with [`ProviderError::Timeout`]) before it.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Provider name reported in `meta.provider`.
    fn name(&self) -> &'static str;
    /// Model or engine id reported in `meta.model`.
    fn model(&self) -> &str;

    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<SummarizeDraft>, ProviderError>;
    /// A free-text summary. Only a generative model writes one; the default says so.
    async fn summarize_abstractive(
        &self,
        _task: SummarizeTask<'_>,
        _deadline: Deadline,
    ) -> Result<Draft<AbstractiveDraft>, ProviderError> {
        Err(ProviderError::Unsupported {
            pointer: "/style",
            message: "an abstractive summary needs a generative provider (INTENT_PROVIDER=bedrock \
                      or openai); the embedded engine writes extractive summaries"
                .to_owned(),
        })
    }
    /// Starts an abstractive summary that streams as the model writes it; returns once the
    /// upstream has accepted the call. Only a generative model writes one.
    async fn summarize_stream(
        &self,
        _task: SummarizeTask<'_>,
        _deadline: Deadline,
    ) -> Result<SummaryStream, ProviderError> {
        Err(ProviderError::Unsupported {
            pointer: "/style",
            message: "an abstractive summary needs a generative provider (INTENT_PROVIDER=bedrock \
                      or openai); the embedded engine writes extractive summaries"
                .to_owned(),
        })
    }
    async fn classify(
        &self,
        task: ClassifyTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ClassifyDraft>, ProviderError>;
    async fn extract(
        &self,
        task: ExtractTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ExtractDraft>, ProviderError>;
    async fn recommend(
        &self,
        task: RecommendTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<RecommendDraft>, ProviderError>;
    async fn score(
        &self,
        task: ScoreTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ScoreDraft>, ProviderError>;
}

pub type SharedProvider = Arc<dyn Provider>;
