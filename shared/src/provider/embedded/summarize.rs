//! Extractive summarization: TextRank over sentence similarity, a mild lead prior (authors put
//! key facts first), optional query focus by BM25, then MMR so the summary does not repeat itself.

use crate::engine::bm25::{Bm25, TfIdf, cosine};
use crate::engine::rank::{min_max, mmr, textrank};
use crate::engine::text::Analyzer;
use crate::provider::{SummarizeDraft, SummarizeTask};

/// Weight of the query focus against centrality when a focus is given.
const FOCUS_WEIGHT: f32 = 0.6;
/// Weight of the position prior; small, so a central late sentence still wins.
const LEAD_WEIGHT: f32 = 0.25;
/// MMR relevance weight: mostly relevance, enough redundancy penalty to avoid repeats.
const MMR_LAMBDA: f32 = 0.7;

pub(super) fn summarize(analyzer: &Analyzer, task: &SummarizeTask<'_>) -> SummarizeDraft {
    let terms: Vec<Vec<String>> = task.sentences.iter().map(|s| analyzer.terms(s)).collect();
    let tfidf = TfIdf::fit(&terms);
    let vectors: Vec<_> = terms.iter().map(|t| tfidf.vector(t)).collect();
    let n = vectors.len();
    let sim: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        0.0
                    } else {
                        cosine(&vectors[i], &vectors[j])
                    }
                })
                .collect()
        })
        .collect();
    let centrality = min_max(&textrank(&sim, 0.85, 100, 1e-6));
    let relevance = salience(&centrality, &terms, analyzer, task.focus);
    let picked = mmr(
        &relevance,
        &|a, b| sim[a][b],
        task.max_sentences,
        MMR_LAMBDA,
    );
    picked.into_iter().map(|i| (i, relevance[i])).collect()
}

/// Combines centrality, position and focus into one relevance score per sentence.
pub(super) fn salience(
    centrality: &[f32],
    terms: &[Vec<String>],
    analyzer: &Analyzer,
    focus: Option<&str>,
) -> Vec<f32> {
    let n = centrality.len();
    let base: Vec<f32> = (0..n)
        .map(|i| {
            let lead = 1.0 / (1.0 + i as f32).sqrt();
            // Fragments ("Photo: Reuters.") are rarely what a reader wants in a summary.
            let short_penalty = if terms[i].len() < 4 { 0.5 } else { 1.0 };
            ((1.0 - LEAD_WEIGHT) * centrality[i] + LEAD_WEIGHT * lead) * short_penalty
        })
        .collect();
    let Some(focus) = focus else { return base };
    let query = analyzer.terms(focus);
    if query.is_empty() {
        return base;
    }
    let focus_scores = min_max(&Bm25::new(terms).score(&query));
    (0..n)
        .map(|i| (1.0 - FOCUS_WEIGHT) * base[i] + FOCUS_WEIGHT * focus_scores[i])
        .collect()
}
