//! Lexical relevance: BM25 over passages, each document scored by its best passage so that a
//! long document is neither truncated nor favoured for its length.

use crate::engine::bm25::Bm25;
use crate::engine::text::{Analyzer, split_sentences};
use crate::provider::{ScoreDraft, ScoreTask};

/// Passage size in words: long enough for context, short enough to localise the match.
pub(super) const PASSAGE_WORDS: usize = 120;

pub(super) fn score(analyzer: &Analyzer, task: &ScoreTask<'_>) -> ScoreDraft {
    let query = analyzer.terms(task.query);
    let (passage_terms, owner) = passages(analyzer, task.documents.iter().map(|d| d.1));
    let bm25 = Bm25::new(&passage_terms);
    let scores = bm25.score(&query);
    let mut best = vec![0.0f32; task.documents.len()];
    for (p, s) in scores.iter().enumerate() {
        best[owner[p]] = best[owner[p]].max(*s);
    }
    let scale = saturation(query.len());
    task.documents
        .iter()
        .zip(best)
        .map(|((id, _), s)| ((*id).to_owned(), s / (s + scale)))
        .collect()
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
