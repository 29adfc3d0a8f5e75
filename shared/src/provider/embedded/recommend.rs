//! Recommendation. Lexical path: TF-IDF similarity of each eligible item to the profile (its
//! text plus the items the user liked), MMR for diversity, and a reason naming the shared words or
//! the liked item an item resembles. Hybrid path: the same with embedding similarity (items and
//! profile embedded in one batch; liked items are candidates, so they are embedded once), and a
//! reason that falls back to the closest sentence of the profile when no word is shared.

use std::collections::HashMap;

use super::vectors::Vectors;
use crate::contract::Usage;
use crate::embed::Embedder;
use crate::engine::bm25::{SparseVec, TfIdf, cosine};
use crate::engine::rank::mmr;
use crate::engine::text::{Analyzer, split_sentences, words};
use crate::provider::{ProviderError, RecommendDraft, RecommendTask, RecommendedDraft};

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

/// Hybrid recommendation: relevance is the cosine of item and profile embeddings (the stated
/// interests and the closest liked item, averaged when both exist), diversity is MMR on the same
/// cosine, and each reason names what made the item relevant.
pub(super) fn recommend_hybrid(
    analyzer: &Analyzer,
    embedder: &dyn Embedder,
    task: &RecommendTask<'_>,
) -> Result<(RecommendDraft, Usage), ProviderError> {
    let profile_text = task.profile_text.filter(|t| !t.trim().is_empty());
    // Profile sentences let a reason quote the interest an item matches; the whole profile is
    // one more text of the same batch.
    let profile_sentences: Vec<&str> = profile_text
        .map(|t| split_sentences(t).iter().map(|s| s.text(t)).collect())
        .unwrap_or_default();
    let n_items = task.items.len();
    let mut batch: Vec<&str> = task.items.iter().map(|(_, t)| t.as_str()).collect();
    let profile_slot = profile_text.map(|t| {
        batch.push(t);
        batch.len() - 1
    });
    let sentence_base = batch.len();
    if profile_sentences.len() > 1 {
        batch.extend(profile_sentences.iter().copied());
    }
    let vectors = Vectors::embed(embedder, &batch)?;

    // Item relevance mapped to [0, 1]: cosines of unrelated texts sit near 0, negative ones
    // carry no preference.
    let relevance: Vec<(f32, Option<usize>)> = task
        .eligible
        .iter()
        .map(|&i| {
            let stated = profile_slot.map(|p| vectors.sim(p, i).max(0.0));
            let liked = task
                .liked
                .iter()
                .filter(|&&l| l < n_items)
                .map(|&l| (vectors.sim(l, i).max(0.0), l))
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            match (stated, liked) {
                (Some(s), Some((sl, l))) => (0.5 * s + 0.5 * sl, Some(l).filter(|_| sl > s)),
                (None, Some((sl, l))) => (sl, Some(l)),
                (Some(s), None) => (s, None),
                (None, None) => (0.0, None),
            }
        })
        .collect();
    let scores: Vec<f32> = relevance.iter().map(|r| r.0).collect();
    let picked = mmr(
        &scores,
        &|a, b| vectors.sim(task.eligible[a], task.eligible[b]),
        task.limit,
        1.0 - task.diversity,
    );
    let profile_terms = profile_text.map(|t| analyzer.terms(t)).unwrap_or_default();
    let surface = surface_forms(analyzer, task);
    let value = picked
        .into_iter()
        .map(|k| {
            let i = task.eligible[k];
            let (score, via_liked) = relevance[k];
            let reason = match via_liked {
                Some(l) => format!("Similar to '{}', which you liked.", task.items[l].0),
                None => {
                    let item_terms = analyzer.terms(&task.items[i].1);
                    let shared = shared_words(&profile_terms, &item_terms, &surface);
                    if !shared.is_empty() {
                        format!("Matches your interest in {}.", shared.join(", "))
                    } else if profile_sentences.len() > 1 && score >= RELATED {
                        let (best, _) = (0..profile_sentences.len())
                            .map(|s| (s, vectors.sim(sentence_base + s, i)))
                            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
                        format!(
                            "Close in meaning to your interest: \"{}\".",
                            clip(profile_sentences[best], 120)
                        )
                    } else if score >= RELATED {
                        "Close in meaning to your stated interests.".to_owned()
                    } else {
                        "Broadens your selection; no direct match with your stated interests."
                            .to_owned()
                    }
                }
            };
            RecommendedDraft {
                id: task.items[i].0.to_owned(),
                score,
                reason,
            }
        })
        .collect();
    Ok((value, vectors.usage))
}

/// Cosine above which two texts are about the same thing for all-MiniLM-L6-v2 (unrelated texts
/// score about 0–0.15).
const RELATED: f32 = 0.3;

/// The first `max` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashingEmbedder;

    #[test]
    fn hybrid_ranks_by_profile_and_explains_each_item() {
        let items: Vec<(&str, String)> = vec![
            ("a", "football match report and league table".to_owned()),
            ("b", "baking bread at home".to_owned()),
            ("c", "tennis final and football transfer news".to_owned()),
        ];
        let task = RecommendTask {
            profile_text: Some("I love football."),
            liked: &[],
            items: &items,
            eligible: &[0, 1, 2],
            limit: 3,
            diversity: 0.0,
        };
        let (d, usage) = recommend_hybrid(&Analyzer::english(), &HashingEmbedder::default(), &task)
            .expect("hashing embedder never fails");
        assert_eq!(usage.embedded_texts, 4);
        assert_eq!(d.len(), 3);
        assert_ne!(d[0].id, "b");
        assert!(
            d.iter()
                .all(|r| !r.reason.is_empty() && (0.0..=1.0).contains(&r.score))
        );
        assert!(d[0].reason.contains("football"), "{:?}", d[0].reason);
    }

    #[test]
    fn liked_items_drive_relevance_without_a_profile() {
        let items: Vec<(&str, String)> = vec![
            ("liked", "space rocket launch".to_owned()),
            ("x", "rocket launch delayed".to_owned()),
            ("y", "cooking pasta".to_owned()),
        ];
        let task = RecommendTask {
            profile_text: None,
            liked: &[0],
            items: &items,
            eligible: &[1, 2],
            limit: 1,
            diversity: 0.3,
        };
        let (d, _) = recommend_hybrid(&Analyzer::english(), &HashingEmbedder::default(), &task)
            .expect("hashing embedder never fails");
        assert_eq!(d[0].id, "x");
        assert!(d[0].reason.contains("liked"));
        let empty = RecommendTask {
            profile_text: Some("🙂"),
            liked: &[],
            items: &[],
            eligible: &[],
            limit: 5,
            diversity: 0.5,
        };
        let (d, _) = recommend_hybrid(&Analyzer::english(), &HashingEmbedder::default(), &empty)
            .expect("no panic");
        assert!(d.is_empty());
    }
}
