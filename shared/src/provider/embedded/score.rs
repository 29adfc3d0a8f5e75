//! Relevance scoring. Lexical path: BM25 over passages, each document scored by its best passage
//! so that a long document is neither truncated nor favoured for its length. Hybrid path: the
//! same BM25 plus the cosine between the query and each document's best passage embedding, fused
//! by a convex combination whose weight was tuned on SciFact train qrels.
//!
//! Why the best passage: relevance is usually local (one paragraph answers the query), and the
//! maximum neither dilutes a relevant paragraph in a long document (as a mean would) nor rewards
//! length (as a sum would). BM25 reads every document in full; the model reads passages up to a
//! budget of wordpieces per request (see [`dense_best_passage`]), so that a request of 100 long
//! documents costs about what one of 20 does.

use super::passages::passages as token_passages;
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
    let (dense, usage) = dense_best_passage(analyzer, embedder, task, &bm25, tuning)?;
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

/// Most passages embedded for one request, whatever the token budget: many tiny documents
/// would otherwise make one batch of thousands of texts.
pub(super) const MAX_EMBEDDED_PASSAGES: usize = 128;

/// Cosine between the query and each document's best passage (documents are cut into passages
/// of at most `tuning.score_passage_tokens` wordpieces so the model reads each one whole).
///
/// Embedding is the expensive part of a request (its time grows with the wordpieces embedded),
/// and `/v1/score` accepts 100 documents of 20,000 characters, so the model reads at most
/// `tuning.score_embedded_tokens` wordpieces per request. They are spent in rounds: first each
/// document's passage with the most query terms, documents in BM25 order, then each document's
/// next passage, and so on until the budget is spent. A short document is read whole; a long
/// one is read where the query's words are first; a document the budget does not reach gets
/// the lowest cosine of the request, so it keeps its lexical rank but gains nothing from the
/// model.
fn dense_best_passage(
    analyzer: &Analyzer,
    embedder: &dyn Embedder,
    task: &ScoreTask<'_>,
    bm25: &[f32],
    tuning: &Tuning,
) -> Result<(Vec<f32>, Usage), ProviderError> {
    // [CLS] and [SEP] are part of every count but not of a passage's share of the window.
    let cost = |s: &str| embedder.token_count(s).saturating_sub(2);
    let query_terms: std::collections::HashSet<String> =
        analyzer.terms(task.query).into_iter().collect();
    let mut order: Vec<usize> = (0..task.documents.len()).collect();
    order.sort_by(|&a, &b| bm25[b].total_cmp(&bm25[a]).then(a.cmp(&b)));
    let budget = tuning.score_embedded_tokens.max(1);
    let passage_tokens = tuning.score_passage_tokens.max(1);
    let mut batch: Vec<&str> = vec![task.query];
    let mut owner: Vec<usize> = vec![usize::MAX];
    // Each document's passages, cut when a round first reaches it (most requests never reach
    // the tail of the BM25 order), best lexical match first.
    let mut cut: Vec<Option<Vec<(&str, usize)>>> = vec![None; task.documents.len()];
    let mut spent = embedder.token_count(task.query);
    'rounds: for round in 0.. {
        let mut any = false;
        for &d in &order {
            let text = task.documents[d].1;
            let passages = cut[d].get_or_insert_with(|| {
                let mut found: Vec<(&str, usize, usize)> =
                    token_passages(text, passage_tokens, &cost)
                        .into_iter()
                        .filter_map(|range| text.get(range))
                        .map(|p| {
                            let hits = analyzer
                                .terms(p)
                                .iter()
                                .filter(|t| query_terms.contains(*t))
                                .count();
                            (p, hits, cost(p) + 2)
                        })
                        .collect();
                // Stable: among equals the earlier passage comes first.
                found.sort_by_key(|p| std::cmp::Reverse(p.1));
                found.into_iter().map(|(p, _, c)| (p, c)).collect()
            });
            let Some(&(passage, tokens)) = passages.get(round) else {
                continue;
            };
            any = true;
            // The first passage of the round's first document is always read, so every
            // request gets some dense evidence.
            let first = batch.len() == 1;
            if (!first && spent + tokens > budget) || batch.len() > MAX_EMBEDDED_PASSAGES {
                break 'rounds;
            }
            spent += tokens;
            batch.push(passage);
            owner.push(d);
        }
        if !any {
            break;
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
    fn a_large_request_embeds_at_most_the_token_budget() {
        let texts: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "Document {i} talks about topic {i} and the password reset flow. {}",
                    "It goes on about other things for a while. ".repeat(3)
                )
            })
            .collect();
        let docs: Vec<(String, &str)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("d{i}"), t.as_str()))
            .collect();
        let docs: Vec<(&str, &str)> = docs.iter().map(|(id, t)| (id.as_str(), *t)).collect();
        let (d, usage) = run("password reset", &docs, 0.3, Fusion::MinMax);
        assert_eq!(d.len(), 100, "every document is still scored");
        let budget = Tuning::default().score_embedded_tokens as u64;
        assert!(usage.input_tokens <= budget, "{usage:?}");
        // Each document is 13 words (15 tokens with [CLS] and [SEP]): the budget is spent, not
        // left mostly unused.
        assert!(
            usage.input_tokens + 15 > budget.min(100 * 15 + 4),
            "{usage:?}"
        );
        assert!(d.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn a_document_is_read_first_where_the_query_words_are() {
        // Room for the query and one passage: the one the model reads must be the one with
        // the query's words, although it comes last in the document.
        let long = format!(
            "{} The password reset link is here.",
            "Filler sentence about nothing at all today. ".repeat(12)
        );
        let tuning = Tuning {
            score_lexical_weight: 0.0,
            score_passage_tokens: 10,
            score_embedded_tokens: 20,
            ..Tuning::default()
        };
        let task = ScoreTask {
            query: "password reset",
            documents: &[("long", long.as_str())],
        };
        let embedder = HashingEmbedder::default();
        let bm25 = [1.0];
        let (dense, usage) =
            dense_best_passage(&Analyzer::english(), &embedder, &task, &bm25, &tuning)
                .expect("hashing embedder never fails");
        assert_eq!(usage.embedded_texts, 2, "the query and one passage");
        let target = "The password reset link is here.";
        let v = Vectors::embed(&embedder, &["password reset", target]).expect("embeds");
        assert!((dense[0] - v.sim(0, 1)).abs() < 1e-6, "{dense:?}");
    }

    #[test]
    fn the_budget_reaches_documents_in_bm25_order() {
        let tuning = Tuning {
            score_passage_tokens: 50,
            score_embedded_tokens: 4 + 2 * 8,
            ..Tuning::default()
        };
        let docs = [
            ("a", "one two three four five six"),
            ("b", "password reset one two three four"),
            ("c", "reset the password one two three"),
        ];
        let task = ScoreTask {
            query: "password reset",
            documents: &docs,
        };
        // BM25 order c, b, a: the budget (query + two documents of 8 tokens) stops before a.
        let bm25 = [0.1, 0.5, 0.9];
        let (dense, usage) = dense_best_passage(
            &Analyzer::english(),
            &HashingEmbedder::default(),
            &task,
            &bm25,
            &tuning,
        )
        .expect("hashing embedder never fails");
        assert_eq!(usage.embedded_texts, 3, "{usage:?}");
        assert_eq!(
            dense[0],
            dense[1].min(dense[2]),
            "a document not read gets the floor"
        );
    }

    #[test]
    fn edge_inputs_do_not_panic() {
        let (d, _) = run("x", &[], 0.5, Fusion::MinMax);
        assert!(d.is_empty());
        let (d, _) = run("🙂", &[("e", "🙂🙂"), ("f", "!")], 0.5, Fusion::MinMax);
        assert_eq!(d.len(), 2);
    }
}
