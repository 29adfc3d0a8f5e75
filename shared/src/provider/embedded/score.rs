//! Relevance scoring. Lexical path: BM25 over passages, each document scored by its best passage
//! so that a long document is neither truncated nor favoured for its length. Hybrid path: the
//! same BM25 plus the cosine between the query and each document's best passage embedding, fused
//! by a convex combination whose weight was tuned on SciFact train qrels.
//!
//! Why the best passage: relevance is usually local (one paragraph answers the query), and the
//! maximum neither dilutes a relevant paragraph in a long document (as a mean would) nor rewards
//! length (as a sum would). Documents up to the contract's 100 × 20,000 characters are read in
//! full: every passage is embedded, none is truncated.

use super::passages::{PASSAGE_TOKENS, passages as token_passages};
use super::vectors::Vectors;
use super::{Fusion, Tuning};
use crate::contract::Usage;
use crate::embed::Embedder;
use crate::engine::bm25::Bm25;
use crate::engine::rank::min_max;
use crate::engine::text::{Analyzer, split_sentences};
use crate::provider::{ProviderError, ScoreDraft, ScoreTask};

/// Passage size in words: long enough for context, short enough to localise the match.
pub(super) const PASSAGE_WORDS: usize = 120;

pub(super) fn score(analyzer: &Analyzer, task: &ScoreTask<'_>) -> ScoreDraft {
    let (raw, scale) = bm25_best_passage(analyzer, task);
    task.documents
        .iter()
        .zip(raw)
        .map(|((id, _), s)| ((*id).to_owned(), s / (s + scale)))
        .collect()
}

/// Raw BM25 of each document's best passage, and the saturation constant of this query.
fn bm25_best_passage(analyzer: &Analyzer, task: &ScoreTask<'_>) -> (Vec<f32>, f32) {
    let query = analyzer.terms(task.query);
    let (passage_terms, owner) = passages(analyzer, task.documents.iter().map(|d| d.1));
    let bm25 = Bm25::new(&passage_terms);
    let scores = bm25.score(&query);
    let mut best = vec![0.0f32; task.documents.len()];
    for (p, s) in scores.iter().enumerate() {
        if let Some(b) = best.get_mut(owner[p]) {
            *b = b.max(if s.is_finite() { *s } else { 0.0 });
        }
    }
    (best, saturation(query.len()))
}

/// Hybrid relevance: `w * bm25 + (1 - w) * cosine`, both normalised per [`Fusion`], in [0, 1].
///
/// The query and every passage of every document are embedded in one batch.
pub(super) fn score_hybrid(
    analyzer: &Analyzer,
    embedder: &dyn Embedder,
    task: &ScoreTask<'_>,
    tuning: &Tuning,
) -> Result<(ScoreDraft, Usage), ProviderError> {
    let (bm25, scale) = bm25_best_passage(analyzer, task);
    let (dense, usage) = dense_best_passage(embedder, task, &bm25)?;
    let w = tuning.score_lexical_weight.clamp(0.0, 1.0);
    let fused: Vec<f32> = match tuning.score_fusion {
        Fusion::MinMax => {
            let b = min_max(&bm25);
            let d = min_max(&dense);
            b.iter()
                .zip(&d)
                .map(|(b, d)| w * b + (1.0 - w) * d)
                .collect()
        }
        Fusion::Absolute => bm25
            .iter()
            .zip(&dense)
            .map(|(b, d)| w * (b / (b + scale)) + (1.0 - w) * d.clamp(0.0, 1.0))
            .collect(),
    };
    let value = task
        .documents
        .iter()
        .zip(fused)
        .map(|((id, _), s)| ((*id).to_owned(), s.clamp(0.0, 1.0)))
        .collect();
    Ok((value, usage))
}

/// Most passages embedded for one request. Embedding is the expensive part of a request (about a
/// millisecond per wordpiece on a Lambda-sized CPU), and `/v1/score` accepts 100 documents of
/// 20,000 characters: without a budget a large request would outlive API Gateway's 29 s.
pub(super) const MAX_EMBEDDED_PASSAGES: usize = 48;

/// Cosine between the query and each document's best passage (documents are cut into passages
/// of at most [`PASSAGE_TOKENS`] wordpieces so the model reads all of them).
///
/// Passages are taken document by document in BM25 order until [`MAX_EMBEDDED_PASSAGES`]; a
/// document the budget does not reach gets the lowest cosine of the request, so it keeps its
/// lexical rank but gains nothing from the model.
fn dense_best_passage(
    embedder: &dyn Embedder,
    task: &ScoreTask<'_>,
    bm25: &[f32],
) -> Result<(Vec<f32>, Usage), ProviderError> {
    // [CLS] and [SEP] are part of every count but not of a passage's share of the window.
    let cost = |s: &str| embedder.token_count(s).saturating_sub(2);
    let mut order: Vec<usize> = (0..task.documents.len()).collect();
    order.sort_by(|&a, &b| bm25[b].total_cmp(&bm25[a]).then(a.cmp(&b)));
    let mut batch: Vec<&str> = vec![task.query];
    let mut owner: Vec<usize> = vec![usize::MAX];
    'documents: for d in order {
        let text = task.documents[d].1;
        for range in token_passages(text, PASSAGE_TOKENS, &cost) {
            if batch.len() > MAX_EMBEDDED_PASSAGES {
                break 'documents;
            }
            if let Some(p) = text.get(range) {
                batch.push(p);
                owner.push(d);
            }
        }
    }
    let vectors = Vectors::embed(embedder, &batch)?;
    let mut best: Vec<Option<f32>> = vec![None; task.documents.len()];
    for (p, &d) in owner.iter().enumerate().skip(1) {
        let s = vectors.sim(0, p);
        best[d] = Some(best[d].map_or(s, |b: f32| b.max(s)));
    }
    let floor = best.iter().flatten().copied().fold(f32::INFINITY, f32::min);
    let floor = if floor.is_finite() { floor } else { 0.0 };
    Ok((
        best.into_iter().map(|b| b.unwrap_or(floor)).collect(),
        vectors.usage,
    ))
}

/// BM25 grows with the number of matched query terms; this constant puts "matches about half the
/// query well" near 0.5 so scores read naturally.
pub(super) fn saturation(query_terms: usize) -> f32 {
    1.5 * (query_terms.max(1) as f32)
}

/// Splits documents into passages of whole sentences; returns each passage's terms and owner.
pub(super) fn passages<'a>(
    analyzer: &Analyzer,
    documents: impl Iterator<Item = &'a str>,
) -> (Vec<Vec<String>>, Vec<usize>) {
    let mut terms = Vec::new();
    let mut owner = Vec::new();
    for (d, text) in documents.enumerate() {
        let mut current: Vec<String> = Vec::new();
        let mut words = 0;
        for sentence in split_sentences(text) {
            let s = sentence.text(text);
            let n = crate::engine::text::words(s).count();
            if words > 0 && words + n > PASSAGE_WORDS {
                terms.push(std::mem::take(&mut current));
                owner.push(d);
                words = 0;
            }
            current.extend(analyzer.terms(s));
            words += n;
        }
        terms.push(current);
        owner.push(d);
    }
    (terms, owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashingEmbedder;

    fn run(query: &str, docs: &[(&str, &str)], w: f32, fusion: Fusion) -> (ScoreDraft, Usage) {
        let tuning = Tuning {
            score_lexical_weight: w,
            score_fusion: fusion,
            ..Tuning::default()
        };
        score_hybrid(
            &Analyzer::english(),
            &HashingEmbedder::default(),
            &ScoreTask {
                query,
                documents: docs,
            },
            &tuning,
        )
        .expect("hashing embedder never fails")
    }

    #[test]
    fn hybrid_scores_are_in_range_and_rank_the_relevant_document_first() {
        let docs = [
            ("a", "The weather is sunny today."),
            ("b", "Reset your password from the account page."),
        ];
        for fusion in [Fusion::MinMax, Fusion::Absolute] {
            let (d, usage) = run("reset password", &docs, 0.3, fusion);
            assert!(d.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
            assert!(d[1].1 > d[0].1, "{d:?}");
            assert_eq!(usage.embedded_texts, 3);
        }
    }

    #[test]
    fn a_long_document_is_read_in_passages_not_truncated() {
        // The only match is at the very end of a document far longer than the model's window.
        let long = format!(
            "{} The password reset link is here.",
            "Filler sentence about nothing. ".repeat(300)
        );
        let docs = [
            ("long", long.as_str()),
            ("other", "Completely unrelated text."),
        ];
        let (d, usage) = run("password reset", &docs, 0.0, Fusion::Absolute);
        assert!(
            usage.embedded_texts > 3,
            "passages were embedded: {usage:?}"
        );
        assert!(d[0].1 > d[1].1, "{d:?}");
    }

    #[test]
    fn a_large_request_embeds_at_most_the_passage_budget() {
        let texts: Vec<String> = (0..100)
            .map(|i| format!("Document {i} talks about topic {i} and the password reset flow."))
            .collect();
        let docs: Vec<(String, &str)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("d{i}"), t.as_str()))
            .collect();
        let docs: Vec<(&str, &str)> = docs.iter().map(|(id, t)| (id.as_str(), *t)).collect();
        let (d, usage) = run("password reset", &docs, 0.3, Fusion::MinMax);
        assert_eq!(d.len(), 100, "every document is still scored");
        assert!(
            usage.embedded_texts as usize <= MAX_EMBEDDED_PASSAGES + 1,
            "{usage:?}"
        );
        assert!(d.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn edge_inputs_do_not_panic() {
        let (d, _) = run("x", &[], 0.5, Fusion::MinMax);
        assert!(d.is_empty());
        let (d, _) = run("🙂", &[("e", "🙂🙂"), ("f", "!")], 0.5, Fusion::MinMax);
        assert_eq!(d.len(), 2);
    }
}
