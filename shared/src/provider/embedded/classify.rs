//! Lexical zero-shot classification: how strongly the message uses the words of each label's
//! name and description, weighted by how specific each word is among the labels.
//!
//! Without an embedding model this is the honest best a lexical engine can do: it abstains when
//! the message shares no vocabulary with any label, rather than guessing.

use std::collections::HashSet;

use crate::engine::rank::{sigmoid, softmax};
use crate::engine::text::Analyzer;
use crate::provider::{ClassifyDraft, ClassifyTask};

/// Softmax temperature over evidence scores: one clear matching word gives about 0.8.
const TEMPERATURE: f32 = 0.35;

pub(super) fn classify(analyzer: &Analyzer, task: &ClassifyTask<'_>) -> ClassifyDraft {
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
    let evidence: Vec<f32> = label_terms
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
        .collect();

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
}
