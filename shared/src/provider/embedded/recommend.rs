//! Lexical recommendation: TF-IDF similarity of each eligible item to the profile (its text plus
//! the items the user liked), MMR for diversity, and a reason naming the shared words or the liked
//! item an item resembles.

use std::collections::HashMap;

use crate::engine::bm25::{SparseVec, TfIdf, cosine};
use crate::engine::rank::mmr;
use crate::engine::text::{Analyzer, words};
use crate::provider::{RecommendDraft, RecommendTask, RecommendedDraft};

pub(super) fn recommend(analyzer: &Analyzer, task: &RecommendTask<'_>) -> RecommendDraft {
    let item_terms: Vec<Vec<String>> = task.items.iter().map(|(_, t)| analyzer.terms(t)).collect();
    let profile_terms = task
        .profile_text
        .map(|t| analyzer.terms(t))
        .unwrap_or_default();
    let mut corpus = item_terms.clone();
    corpus.push(profile_terms.clone());
    let tfidf = TfIdf::fit(&corpus);
    let vectors: Vec<SparseVec> = item_terms.iter().map(|t| tfidf.vector(t)).collect();
    let profile_vec = (!profile_terms.is_empty()).then(|| tfidf.vector(&profile_terms));

    // Relevance: the stated interests, and resemblance to the closest liked item.
    let relevance: Vec<(f32, Option<usize>)> = task
        .eligible
        .iter()
        .map(|&i| {
            let stated = profile_vec
                .as_ref()
                .map(|p| cosine(p, &vectors[i]))
                .unwrap_or(0.0);
            let liked = task
                .liked
                .iter()
                .map(|&l| (cosine(&vectors[l], &vectors[i]), l))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match (profile_vec.is_some(), liked) {
                (true, Some((s, l))) => (0.5 * stated + 0.5 * s, Some(l).filter(|_| s > stated)),
                (false, Some((s, l))) => (s, Some(l)),
                (_, None) => (stated, None),
            }
        })
        .collect();
    let scores: Vec<f32> = relevance.iter().map(|r| r.0).collect();
    let picked = mmr(
        &scores,
        &|a, b| cosine(&vectors[task.eligible[a]], &vectors[task.eligible[b]]),
        task.limit,
        1.0 - task.diversity,
    );
    let surface = surface_forms(analyzer, task);
    picked
        .into_iter()
        .map(|k| {
            let i = task.eligible[k];
            let (score, via_liked) = relevance[k];
            let reason = match via_liked {
                Some(l) => format!("Similar to '{}', which you liked.", task.items[l].0),
                None => {
                    let shared = shared_words(&profile_terms, &item_terms[i], &surface);
                    if shared.is_empty() {
                        "Broadens your selection; no direct match with your stated interests."
                            .to_owned()
                    } else {
                        format!("Matches your interest in {}.", shared.join(", "))
                    }
                }
            };
            RecommendedDraft {
                id: task.items[i].0.to_owned(),
                score,
                reason,
            }
        })
        .collect()
}

/// Maps stems back to a word the user actually wrote, for readable reasons.
fn surface_forms(analyzer: &Analyzer, task: &RecommendTask<'_>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    if let Some(text) = task.profile_text {
        for (_, w) in words(text) {
            let lower = w.to_lowercase();
            if analyzer.is_stop_word(&lower) {
                continue;
            }
            map.entry(analyzer.stem(&lower)).or_insert(lower);
        }
    }
    map
}

fn shared_words(
    profile: &[String],
    item: &[String],
    surface: &HashMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in profile {
        if item.contains(term) {
            let word = surface.get(term).cloned().unwrap_or_else(|| term.clone());
            if !out.contains(&word) {
                out.push(word);
            }
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}
