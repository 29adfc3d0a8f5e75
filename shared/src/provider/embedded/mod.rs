//! The `embedded` provider: answers every intent inside the Lambda, with no network and no
//! credentials, from the classic engine in [`crate::engine`] and, when the function ships the
//! model, the sentence embeddings of [`crate::embed`].
//!
//! # Layout
//! One module per intent ([`summarize`], [`classify`], [`extract`], [`recommend`], [`score`]),
//! each holding a classic (lexical) path and a hybrid path that adds embeddings, as pure
//! functions from task (plus vectors) to draft, so each can be tuned without touching the others.
//! [`vectors`] embeds one request's texts in a single deduplicated batch; [`passages`] cuts long
//! documents into windows the model can read whole.
//!
//! # Blocking work on the async path
//! [`Embedder::embed`] is CPU-bound. It is called directly inside the async trait methods, not on
//! `spawn_blocking`: each Lambda runs a current-thread runtime serving one request at a time, so
//! there is nothing else the runtime thread could be doing meanwhile, and a hop to the blocking
//! pool would only add a thread handoff (and a thread) per request.
//!
//! # Tuning
//! The weights that combine lexical and embedding signals live in [`Tuning`]; its `Default` holds
//! the values chosen by the quality report's tuning runs (`eval/`, see `EVALUATION.md` for what
//! was tuned on which data). The report also builds providers with other values for ablations
//! (embeddings only, lexical only).

mod classify;
mod extract;
mod label_concepts;
pub mod passages;
mod recommend;
mod score;
mod summarize;
mod vectors;

#[cfg(test)]
mod model_tests;

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    ClassifyDraft, ClassifyTask, Deadline, Draft, ExtractDraft, ExtractTask, Provider,
    ProviderError, RecommendDraft, RecommendTask, ScoreDraft, ScoreTask, SummarizeDraft,
    SummarizeTask,
};
use crate::contract::Usage;
use crate::embed::Embedder;
use crate::engine::text::Analyzer;

/// Engine id reported in `meta.model` when no embedding model is loaded.
pub const CLASSIC_MODEL_ID: &str = "classic-ir-v1";

/// How [`score`](Provider::score) turns BM25 and cosine into one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fusion {
    /// Convex combination of the two signals min-max normalised over the request's documents:
    /// robust to the very different scales of BM25 and cosine, but relative to the request.
    MinMax,
    /// Convex combination of absolute signals (saturated BM25 and clamped cosine): a score keeps
    /// its meaning across requests, even with a single document.
    Absolute,
}

/// Weights of the hybrid (lexical + embedding) engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// score: weight of BM25 in the hybrid; 1 = BM25 alone, 0 = embeddings alone.
    pub score_lexical_weight: f32,
    /// score: how the two signals are normalised before they are combined.
    pub score_fusion: Fusion,
    /// score: most wordpieces in one passage the model embeds (below its 256-token window).
    pub score_passage_tokens: usize,
    /// score: most wordpieces the model embeds for one request, query included: the request's
    /// time budget, since a forward pass costs about the same per wordpiece.
    pub score_embedded_tokens: usize,
    /// classify: weight of the lexical evidence added to each label's cosine (0 = embeddings
    /// alone).
    pub classify_lexical_weight: f32,
    /// classify: softmax temperature over label similarities (single-label mode).
    pub classify_temperature: f32,
    /// classify: similarity of the implicit "none of these labels" option; a message must be
    /// closer than this to some label for the classifier to commit.
    pub classify_null_similarity: f32,
    /// classify: sigmoid slope (per unit of cosine) in multi-label mode, centred on
    /// `classify_multi_label_centre`.
    pub classify_sigmoid_slope: f32,
    /// classify: the cosine at which a label is as likely to apply as not in multi-label mode.
    pub classify_multi_label_centre: f32,
    /// classify: logit offset (cosine units) per unit of lexical sentiment for labels that name
    /// a polarity (`positive` / `negative` / `neutral`).
    pub classify_sentiment_weight: f32,
    /// classify: logit offset per unit of spam cues for a `spam` label (and against the others).
    pub classify_spam_weight: f32,
    /// classify: the single-label default threshold is `classify_commit / n` for `n` labels:
    /// the top label must beat an even split by this factor.
    pub classify_commit: f32,
}

impl Default for Tuning {
    /// Tuned values; see `EVALUATION.md` ("What was tuned on what").
    fn default() -> Self {
        Tuning {
            // SciFact train qrels (60 queries, BM25 top-20 reranked; eval --tune): nDCG@10 peaks
            // at 0.40 (0.707) on a plateau from 0.35 to 0.50; 0 (embeddings alone) gives 0.698
            // and 1 (BM25 alone) 0.573.
            score_lexical_weight: 0.4,
            score_fusion: Fusion::MinMax,
            // SciFact train qrels (60 queries, BM25 top-20 reranked; eval --tune-score), the
            // model's share of a request: passages of 128 wordpieces (the length MiniLM was
            // trained on) and a budget of 2,560 per request, the smallest on the plateau
            // (0.721; 3,072 and 4,096 give 0.723 and 0.724, 2,048 gives 0.710). Reading every
            // passage of 200 wordpieces, as before, gave 0.716 for three times the wordpieces.
            score_passage_tokens: 128,
            score_embedded_tokens: 2560,
            // The project's own labelled messages (eval/data/own_classify.json: 218 messages in
            // nine label sets, 18 of which fit no label; `eval --tune-classify`): the lowest
            // log-loss of "gold label, or none" is T 0.05, null 0.025, sentiment 0.1 (0.637;
            // without the concept evidence 0.731). The spam weight's loss is flat from 0.4 to 0.8
            // (0.6369 to 0.6359), so the smallest weight of the plateau is kept: the model keeps
            // its say. Lexical evidence did not lower the loss, so it carries no weight. The
            // commit factor is the largest that still answers 95% of the messages that fit a
            // label (1.2: 4.5% abstention, accuracy among answered 0.880 against 0.860 overall):
            // abstention is for the genuinely uncertain few. Off-topic messages mostly get a
            // label at this threshold (17 of 18); their scores keep part of the mass on "none",
            // and callers who want "none" for them set a higher `threshold`.
            classify_lexical_weight: 0.0,
            classify_temperature: 0.05,
            classify_null_similarity: 0.025,
            // Multi-label, on the same own messages read label by label (each message's label,
            // plus the `also` labels of the messages about two topics, apply; the others do
            // not; `eval --tune-classify`): the lowest mean binary log-loss is centre 0.15,
            // slope 20 (0.335; the single-label null 0.1 and slope 15 used before gave 0.405),
            // where the default threshold selects 179 labels, 73% of them right, and selects
            // something for 3 of the 18 messages that fit no label.
            classify_sigmoid_slope: 20.0,
            classify_multi_label_centre: 0.15,
            classify_sentiment_weight: 0.1,
            classify_spam_weight: 0.4,
            classify_commit: 1.2,
        }
    }
}

pub struct EmbeddedProvider {
    analyzer: Analyzer,
    /// The sentence-embedding model, when the function ships it (`MODEL_DIR`).
    embedder: Option<Arc<dyn Embedder>>,
    model_id: String,
    tuning: Tuning,
}

impl Default for EmbeddedProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedProvider {
    /// The classic engine alone.
    pub fn new() -> Self {
        EmbeddedProvider {
            analyzer: Analyzer::english(),
            embedder: None,
            model_id: CLASSIC_MODEL_ID.to_owned(),
            tuning: Tuning::default(),
        }
    }

    /// The classic engine combined with a sentence-embedding model.
    pub fn with_embedder(embedder: Arc<dyn Embedder>) -> Self {
        EmbeddedProvider {
            analyzer: Analyzer::english(),
            model_id: format!("{}+{CLASSIC_MODEL_ID}", embedder.model_id()),
            embedder: Some(embedder),
            tuning: Tuning::default(),
        }
    }

    /// The same provider with other hybrid weights (ablations and tuning runs of the quality
    /// report); weights are clamped to their meaningful ranges when used.
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    pub fn tuning(&self) -> Tuning {
        self.tuning
    }

    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
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
        &self.model_id
    }

    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
        _deadline: Deadline,
    ) -> Result<Draft<SummarizeDraft>, ProviderError> {
        let Some(embedder) = &self.embedder else {
            let usage = word_usage(task.sentences.iter().copied().chain(task.focus));
            return Ok(Draft::new(
                summarize::summarize(&self.analyzer, &task),
                usage,
            ));
        };
        let (value, usage) = summarize::summarize_hybrid(embedder.as_ref(), &self.analyzer, &task)?;
        Ok(Draft::new(value, usage))
    }

    async fn classify(
        &self,
        task: ClassifyTask<'_>,
        _deadline: Deadline,
    ) -> Result<Draft<ClassifyDraft>, ProviderError> {
        let Some(embedder) = &self.embedder else {
            let usage = word_usage(std::iter::once(task.text));
            return Ok(Draft::new(classify::classify(&self.analyzer, &task), usage));
        };
        let (value, usage) =
            classify::classify_hybrid(&self.analyzer, embedder.as_ref(), &task, &self.tuning)?;
        Ok(Draft::new(value, usage))
    }

    async fn extract(
        &self,
        task: ExtractTask<'_>,
        _deadline: Deadline,
    ) -> Result<Draft<ExtractDraft>, ProviderError> {
        let Some(embedder) = &self.embedder else {
            let usage = word_usage(std::iter::once(task.text));
            return Ok(Draft::new(extract::extract(&task), usage));
        };
        let (value, usage) = extract::extract_hybrid(embedder.as_ref(), &task)?;
        Ok(Draft::new(value, usage))
    }

    async fn recommend(
        &self,
        task: RecommendTask<'_>,
        _deadline: Deadline,
    ) -> Result<Draft<RecommendDraft>, ProviderError> {
        let Some(embedder) = &self.embedder else {
            let usage = word_usage(
                task.items
                    .iter()
                    .map(|i| i.1.as_str())
                    .chain(task.profile_text),
            );
            return Ok(Draft::new(
                recommend::recommend(&self.analyzer, &task),
                usage,
            ));
        };
        let (value, usage) = recommend::recommend_hybrid(&self.analyzer, embedder.as_ref(), &task)?;
        Ok(Draft::new(value, usage))
    }

    async fn score(
        &self,
        task: ScoreTask<'_>,
        _deadline: Deadline,
    ) -> Result<Draft<ScoreDraft>, ProviderError> {
        let Some(embedder) = &self.embedder else {
            let usage = word_usage(
                task.documents
                    .iter()
                    .map(|d| d.1)
                    .chain(std::iter::once(task.query)),
            );
            return Ok(Draft::new(score::score(&self.analyzer, &task), usage));
        };
        let (value, usage) =
            score::score_hybrid(&self.analyzer, embedder.as_ref(), &task, &self.tuning)?;
        Ok(Draft::new(value, usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashingEmbedder;

    #[test]
    fn model_id_names_both_engines() {
        assert_eq!(EmbeddedProvider::new().model(), CLASSIC_MODEL_ID);
        let hybrid = EmbeddedProvider::with_embedder(Arc::new(HashingEmbedder::default()));
        assert_eq!(hybrid.model(), "hashing-test+classic-ir-v1");
        assert!(hybrid.embedder().is_some());
        assert!(EmbeddedProvider::new().embedder().is_none());
    }

    #[test]
    fn tuning_can_be_replaced_for_ablations() {
        let t = Tuning {
            score_lexical_weight: 0.0,
            ..Tuning::default()
        };
        let p = EmbeddedProvider::new().with_tuning(t);
        assert_eq!(p.tuning(), t);
    }
}
