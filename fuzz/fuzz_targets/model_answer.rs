//! Fuzzes the decoders of model answers: whatever JSON a generative model returns, every intent's
//! decoder returns (never panics), and what it accepts only names indices the task has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shared::contract::extract::{FieldSpec, FieldType};
use shared::provider::generative::intents;
use shared::provider::{ClassifyTask, ExtractTask, RecommendTask, ScoreTask, SummarizeTask};

const SENTENCES: &[&str] = &["One.", "Two.", "Three."];
const LABELS: &[(&str, Option<&str>)] = &[("a", None), ("b", Some("bee"))];
const DOCUMENTS: &[(&str, &str)] = &[("d1", "x"), ("d2", "y")];

fuzz_target!(|body: &[u8]| {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let summarize = SummarizeTask {
        sentences: SENTENCES,
        max_sentences: 2,
        focus: None,
    };
    if let Ok(picks) = intents::summarize::decode_extractive(&answer, &summarize) {
        assert!(picks.iter().all(|(i, s)| *i < SENTENCES.len() && s.is_finite()));
    }
    if let Ok(draft) = intents::summarize::decode_abstractive(&answer, &summarize) {
        assert!(draft.sources.iter().all(|i| *i < SENTENCES.len()));
        assert!(!draft.summary.trim().is_empty());
    }
    let classify = ClassifyTask {
        text: "t",
        labels: LABELS,
        multi_label: false,
    };
    if let Ok(draft) = intents::classify::decode(&answer, &classify) {
        assert!(draft.scores.iter().all(|(n, s)| (n == "a" || n == "b") && s.is_finite()));
    }
    let fields = [FieldSpec {
        name: "f".to_owned(),
        kind: FieldType::Money,
        description: None,
        values: None,
    }];
    let extract = ExtractTask {
        text: "t",
        fields: &fields,
    };
    if let Ok(draft) = intents::extract::decode(&answer, &extract) {
        assert!(draft.iter().all(|d| d.name == "f"));
    }
    let items = vec![("i1", "x".to_owned()), ("i2", "y".to_owned())];
    let recommend = RecommendTask {
        profile_text: None,
        liked: &[0],
        items: &items,
        eligible: &[1],
        limit: 1,
        diversity: 0.0,
    };
    if let Ok(draft) = intents::recommend::decode(&answer, &recommend) {
        assert!(draft.iter().all(|d| d.id == "i2"));
    }
    let score = ScoreTask {
        query: "q",
        documents: DOCUMENTS,
    };
    if let Ok(draft) = intents::score::decode(&answer, &score) {
        assert_eq!(draft.len(), DOCUMENTS.len());
    }
});
