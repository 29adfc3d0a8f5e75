//! Zero-shot classification. Lexical path: how strongly the message uses the words of each
//! label's name and description, weighted by how specific each word is among the labels; without
//! an embedding model this is the honest best a lexical engine can do, and it abstains when the
//! message shares no vocabulary with any label rather than guessing. Hybrid path: label
//! embeddings with calibrated scores and the lexical evidence as a small bonus; labels the
//! engine knows (a bare `positive`, `spam`, `sports`) are read with their glossary description
//! and, for sentiment and spam, with lexical evidence the model lacks ([`super::label_concepts`]).

use std::collections::HashSet;

use super::Tuning;
use super::label_concepts::{concept_offsets, glossary};
use super::vectors::Vectors;
use crate::contract::Usage;
use crate::embed::Embedder;
use crate::engine::rank::{sigmoid, softmax};
use crate::engine::text::Analyzer;
use crate::provider::{ClassifyDraft, ClassifyTask, ProviderError};

/// Softmax temperature over evidence scores: one clear matching word gives about 0.8.
const TEMPERATURE: f32 = 0.35;

pub(super) fn classify(analyzer: &Analyzer, task: &ClassifyTask<'_>) -> ClassifyDraft {
    let evidence = lexical_evidence(analyzer, task);
    let n = task.labels.len() as f32;
    let scores: Vec<f32> = if task.multi_label {
        evidence.iter().map(|&e| sigmoid(4.0 * e - 2.0)).collect()
    } else {
        softmax(&evidence, TEMPERATURE)
    };
    // Uniform scores (no evidence) must fall below the default threshold, so the caller gets an
    // abstention rather than an arbitrary first label.
    let default_threshold = if task.multi_label {
        0.5
    } else {
        (1.5 / n).clamp(0.2, 0.75)
    };
    draft(task, scores, default_threshold)
}

/// Lexical evidence per label: the label's words found in the message, each weighted by how
/// specific it is among the labels, normalised by the label's length. 0 = no shared word.
pub(super) fn lexical_evidence(analyzer: &Analyzer, task: &ClassifyTask<'_>) -> Vec<f32> {
    let text_terms: HashSet<String> = analyzer.terms(task.text).into_iter().collect();
    let label_terms: Vec<Vec<String>> = task
        .labels
        .iter()
        .map(|(name, description)| {
            let name = split_identifier(name);
            let mut terms = analyzer.terms(&name);
            // The name counts twice: it is the label's most specific statement.
            terms.extend(terms.clone());
            if let Some(d) = description {
                terms.extend(analyzer.terms(d));
            }
            terms
        })
        .collect();
    // A word shared by every label says nothing about which one applies.
    let n = label_terms.len() as f32;
    let df = |term: &str| {
        label_terms
            .iter()
            .filter(|terms| terms.iter().any(|t| t == term))
            .count() as f32
    };
    label_terms
        .iter()
        .map(|terms| {
            if terms.is_empty() {
                return 0.0;
            }
            let matched: f32 = terms
                .iter()
                .filter(|t| text_terms.contains(*t))
                .map(|t| (1.0 + n / df(t)).ln())
                .sum();
            matched / (terms.len() as f32).sqrt()
        })
        .collect()
}

/// Zero-shot classification by label embeddings: the message and every label (humanised name
/// plus the caller's description, else the glossary's) are embedded in one batch; each label's
/// logit is its cosine to the message plus a small lexical bonus plus the concept evidence
/// (sentiment, spam cues) for labels that name one.
///
/// Calibration. Single-label: a softmax at temperature `T` over the labels *and* an implicit
/// "none of these" option whose logit is the cosine `null_similarity`; the scores are the labels'
/// shares, so they sum to at most 1 and a message far from every label leaves most of the mass
/// on "none". The default threshold is `classify_commit / n` for `n` labels (capped at 0.5):
/// the top label is chosen unless it is barely above an even split, i.e. unless the engine is
/// genuinely unsure. Multi-label: each label independently,
/// `sigmoid(slope * (logit - multi_label_centre))`, with threshold 0.5 (more likely than not).
pub(super) fn classify_hybrid(
    analyzer: &Analyzer,
    embedder: &dyn Embedder,
    task: &ClassifyTask<'_>,
    tuning: &Tuning,
) -> Result<(ClassifyDraft, Usage), ProviderError> {
    let label_texts: Vec<String> = task
        .labels
        .iter()
        .map(|(name, description)| label_text(name, description.or_else(|| glossary(name))))
        .collect();
    let mut batch: Vec<&str> = Vec::with_capacity(label_texts.len() + 1);
    batch.push(task.text);
    batch.extend(label_texts.iter().map(String::as_str));
    let vectors = Vectors::embed(embedder, &batch)?;
    let lexical = lexical_evidence(analyzer, task);
    let concepts = concept_offsets(
        task.text,
        task.labels,
        tuning.classify_sentiment_weight,
        tuning.classify_spam_weight,
    );
    let logits: Vec<f32> = (0..task.labels.len())
        .map(|i| vectors.sim(0, i + 1) + tuning.classify_lexical_weight * lexical[i] + concepts[i])
        .collect();
    Ok((calibrate(task, &logits, tuning), vectors.usage))
}

/// Turns label logits (cosine scale) into calibrated scores; see [`classify_hybrid`].
pub(super) fn calibrate(task: &ClassifyTask<'_>, logits: &[f32], tuning: &Tuning) -> ClassifyDraft {
    if task.multi_label {
        let (slope, centre) = (
            tuning.classify_sigmoid_slope,
            tuning.classify_multi_label_centre,
        );
        let scores = logits
            .iter()
            .map(|&z| sigmoid(slope * (z - centre)))
            .collect();
        return draft(task, scores, MULTI_LABEL_THRESHOLD);
    }
    let null = tuning.classify_null_similarity;
    let mut with_null = logits.to_vec();
    with_null.push(null);
    let mut p = softmax(&with_null, tuning.classify_temperature);
    p.pop();
    let n = task.labels.len().max(1) as f32;
    draft(task, p, (tuning.classify_commit / n).min(0.5))
}

/// Multi-label threshold of the calibrated sigmoid scores: more likely than not.
const MULTI_LABEL_THRESHOLD: f32 = 0.5;

fn draft(task: &ClassifyTask<'_>, scores: Vec<f32>, default_threshold: f32) -> ClassifyDraft {
    ClassifyDraft {
        scores: task
            .labels
            .iter()
            .zip(scores)
            .map(|((name, _), s)| ((*name).to_owned(), s))
            .collect(),
        default_threshold,
    }
}

/// What the model reads for a label: its name as words ("card arrival"), then its description.
pub(super) fn label_text(name: &str, description: Option<&str>) -> String {
    let words = split_identifier(name).replace('/', " ");
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    match description {
        Some(d) => format!("{words}: {d}"),
        None => words,
    }
}

/// `card_arrival` and `cardArrival` both read as "card arrival".
pub(super) fn split_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase();
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_split_into_words() {
        assert_eq!(split_identifier("card_arrival"), "card arrival");
        assert_eq!(split_identifier("cardArrival"), "card Arrival");
    }

    use crate::embed::HashingEmbedder;

    const LABELS: &[(&str, Option<&str>)] = &[
        ("card_arrival", None),
        ("exchange_rate", Some("currency conversion rates")),
    ];

    fn hybrid(text: &str, multi_label: bool) -> (ClassifyDraft, Usage) {
        let task = ClassifyTask {
            text,
            labels: LABELS,
            multi_label,
        };
        classify_hybrid(
            &Analyzer::english(),
            &HashingEmbedder::default(),
            &task,
            &Tuning::default(),
        )
        .expect("hashing embedder never fails")
    }

    #[test]
    fn labels_are_humanised_before_embedding() {
        assert_eq!(label_text("card_arrival", None), "card arrival");
        assert_eq!(label_text("Sci/Tech", None), "Sci Tech");
        assert_eq!(label_text("x", Some("y")), "x: y");
    }

    #[test]
    fn hybrid_picks_the_matching_label_with_one_batch() {
        let (d, usage) = hybrid("card arrival", false);
        // Text, and two labels of which one reads exactly like the text: embedded once each.
        assert_eq!(usage.embedded_texts, 2);
        assert!(d.scores[0].1 > d.default_threshold, "{:?}", d.scores);
        assert!(d.scores[1].1 < d.scores[0].1);
        let total: f32 = d.scores.iter().map(|s| s.1).sum();
        assert!(total <= 1.0 + 1e-5);
    }

    #[test]
    fn hybrid_abstains_on_unrelated_text() {
        for multi in [false, true] {
            let (d, _) = hybrid("sunny weather at the beach", multi);
            assert!(
                d.scores.iter().all(|s| s.1 < d.default_threshold),
                "{:?}",
                d.scores
            );
        }
    }

    #[test]
    fn multi_label_scores_are_independent_and_in_range() {
        let (d, _) = hybrid("card arrival and exchange rate", true);
        assert!(d.scores.iter().all(|s| (0.0..=1.0).contains(&s.1)));
        assert!(d.scores.iter().map(|s| s.1).sum::<f32>() > 1.0);
    }

    #[test]
    fn no_labels_and_emoji_do_not_panic() {
        let task = ClassifyTask {
            text: "🙂",
            labels: &[],
            multi_label: false,
        };
        let (d, _) = classify_hybrid(
            &Analyzer::english(),
            &HashingEmbedder::default(),
            &task,
            &Tuning::default(),
        )
        .expect("no panic");
        assert!(d.scores.is_empty());
    }
}
