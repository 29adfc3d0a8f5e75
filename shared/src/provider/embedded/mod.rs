//! The `embedded` provider: answers every intent inside the Lambda, with no network and no
//! credentials, from the classic engine in [`crate::engine`].
//!
//! # Layout
//! One module per intent ([`summarize`], [`classify`], [`extract`], [`recommend`], [`score`]),
//! each a pure function from task to draft, so each can be tuned without touching the others.

mod classify;
mod extract;
mod recommend;
mod score;
mod summarize;

use async_trait::async_trait;

use super::{
    ClassifyDraft, ClassifyTask, Draft, ExtractDraft, ExtractTask, Provider, ProviderError,
    RecommendDraft, RecommendTask, ScoreDraft, ScoreTask, SummarizeDraft, SummarizeTask,
};
use crate::contract::Usage;
use crate::engine::text::Analyzer;

/// Engine id reported in `meta.model` when no embedding model is loaded.
pub const CLASSIC_MODEL_ID: &str = "classic-ir-v1";

pub struct EmbeddedProvider {
    analyzer: Analyzer,
}

impl Default for EmbeddedProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedProvider {
    pub fn new() -> Self {
        EmbeddedProvider {
            analyzer: Analyzer::english(),
        }
    }
}

/// Word tokens the classic engine read, reported as input tokens.
fn word_usage<'a>(texts: impl IntoIterator<Item = &'a str>) -> Usage {
    let input_tokens = texts
        .into_iter()
        .map(|t| crate::engine::text::words(t).count() as u64)
        .sum();
    Usage {
        input_tokens,
        ..Usage::default()
    }
}

#[async_trait]
impl Provider for EmbeddedProvider {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn model(&self) -> &str {
        CLASSIC_MODEL_ID
    }

    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
    ) -> Result<Draft<SummarizeDraft>, ProviderError> {
        let usage = word_usage(task.sentences.iter().copied().chain(task.focus));
        Ok(Draft {
            value: summarize::summarize(&self.analyzer, &task),
            usage,
        })
    }

    async fn classify(
        &self,
        task: ClassifyTask<'_>,
    ) -> Result<Draft<ClassifyDraft>, ProviderError> {
        let usage = word_usage(std::iter::once(task.text));
        Ok(Draft {
            value: classify::classify(&self.analyzer, &task),
            usage,
        })
    }

    async fn extract(&self, task: ExtractTask<'_>) -> Result<Draft<ExtractDraft>, ProviderError> {
        let usage = word_usage(std::iter::once(task.text));
        Ok(Draft {
            value: extract::extract(&task),
            usage,
        })
    }

    async fn recommend(
        &self,
        task: RecommendTask<'_>,
    ) -> Result<Draft<RecommendDraft>, ProviderError> {
        let usage = word_usage(
            task.items
                .iter()
                .map(|i| i.1.as_str())
                .chain(task.profile_text),
        );
        Ok(Draft {
            value: recommend::recommend(&self.analyzer, &task),
            usage,
        })
    }

    async fn score(&self, task: ScoreTask<'_>) -> Result<Draft<ScoreDraft>, ProviderError> {
        let usage = word_usage(
            task.documents
                .iter()
                .map(|d| d.1)
                .chain(std::iter::once(task.query)),
        );
        Ok(Draft {
            value: score::score(&self.analyzer, &task),
            usage,
        })
    }
}
