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

pub mod bedrock;
pub mod embedded;
pub mod generative;
pub mod openai;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::contract::Usage;
use crate::contract::extract::{FieldSpec, FieldValue};

/// Everything a provider can fail with. Intents map these to 429/502/503/504/500.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider throttled the request")]
    Throttled { retry_after_s: u64 },
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    #[error("the provider did not answer in time")]
    Timeout,
    /// The provider answered, but not with something usable (after the one allowed repair).
    #[error("{0}")]
    BadOutput(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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
        self.0.saturating_duration_since(tokio::time::Instant::now())
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
}

pub struct SummarizeTask<'a> {
    /// The document's sentences, in order.
    pub sentences: &'a [&'a str],
    pub max_sentences: usize,
    pub focus: Option<&'a str>,
}

/// Chosen sentences as (index into `sentences`, salience); any order, salience any real number.
pub type SummarizeDraft = Vec<(usize, f32)>;

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

pub struct ScoreTask<'a> {
    pub query: &'a str,
    /// (id, text) of each document, in request order.
    pub documents: &'a [(&'a str, &'a str)],
}

/// Score per document id.
pub type ScoreDraft = Vec<(String, f32)>;

#[async_trait]
pub trait Provider: Send + Sync {
    /// Provider name reported in `meta.provider`.
    fn name(&self) -> &'static str;
    /// Model or engine id reported in `meta.model`.
    fn model(&self) -> &str;

    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
    ) -> Result<Draft<SummarizeDraft>, ProviderError>;
    async fn classify(&self, task: ClassifyTask<'_>)
    -> Result<Draft<ClassifyDraft>, ProviderError>;
    async fn extract(&self, task: ExtractTask<'_>) -> Result<Draft<ExtractDraft>, ProviderError>;
    async fn recommend(
        &self,
        task: RecommendTask<'_>,
    ) -> Result<Draft<RecommendDraft>, ProviderError>;
    async fn score(&self, task: ScoreTask<'_>) -> Result<Draft<ScoreDraft>, ProviderError>;
}

pub type SharedProvider = Arc<dyn Provider>;
