//! Tests of the hybrid engine with the real all-MiniLM-L6-v2: semantic behaviour that the
//! hashing test double cannot show (a paraphrase with no shared word, calibrated abstention).
//!
//! The model directory is `MODEL_DIR` if set, else `<crate>/../.tools/model/all-MiniLM-L6-v2`,
//! where `scripts/setup.sh` installs it. A missing model FAILS these tests (it never skips them):
//! a green run must mean the model really was exercised.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::EmbeddedProvider;
use crate::contract::extract::{FieldSpec, FieldType};
use crate::embed::{Embedder, MiniLm};
use crate::provider::{ClassifyTask, Deadline, ExtractTask, Provider, ScoreTask, SummarizeTask};

fn model() -> Arc<dyn Embedder> {
    static MODEL: OnceLock<Arc<MiniLm>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = std::env::var_os("MODEL_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/model/all-MiniLM-L6-v2")
                });
            Arc::new(MiniLm::load(&dir).unwrap_or_else(|err| {
                panic!(
                    "cannot load all-MiniLM-L6-v2 from {} ({err}). These tests need the real \
                     model: run scripts/setup.sh (or set MODEL_DIR to a directory holding it).",
                    dir.display()
                )
            }))
        })
        .clone()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

const BANK_LABELS: &[(&str, Option<&str>)] = &[
    ("card_arrival", None),
    ("lost_or_stolen_card", None),
    ("exchange_rate", None),
];

#[test]
fn classify_understands_a_paraphrase_and_is_less_sure_of_unrelated_text() {
    let p = EmbeddedProvider::with_embedder(model());
    let d = block(p.classify(
        ClassifyTask {
            text: "I ordered a new card two weeks ago and it still hasn't come",
            labels: BANK_LABELS,
            multi_label: false,
        },
        Deadline::after(Duration::from_secs(60)),
    ))
    .expect("classifies");
    let best = d
        .value
        .scores
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("scores");
    assert_eq!(best.0, "card_arrival", "{:?}", d.value.scores);
    assert!(best.1 >= d.value.default_threshold, "{:?}", d.value.scores);
    assert_eq!(d.usage.embedded_texts, 4);
    assert!(d.usage.input_tokens > 0);

    // Unrelated text is far less certain than the paraphrase: part of its mass stays on the
    // implicit "none of these" (the scores sum to less than 1). Calibrated on the project's own
    // messages, the default decision commits readily (issue: abstain only when genuinely unsure),
    // so callers who want "none" for off-topic text set a higher `threshold`.
    let paraphrase_top = best.1;
    let d = block(p.classify(
        ClassifyTask {
            text: "The recipe needs two eggs and a cup of flour",
            labels: BANK_LABELS,
            multi_label: false,
        },
        Deadline::after(Duration::from_secs(60)),
    ))
    .expect("classifies");
    let top = d.value.scores.iter().map(|s| s.1).fold(0.0f32, f32::max);
    let total: f32 = d.value.scores.iter().map(|s| s.1).sum();
    assert!(top < paraphrase_top, "{:?}", d.value.scores);
    assert!(total < 0.95, "{:?}", d.value.scores);
}

#[test]
fn score_ranks_a_relevant_document_without_shared_words_above_an_unrelated_one() {
    let p = EmbeddedProvider::with_embedder(model());
    let docs = [
        ("weather", "Tomorrow will be sunny with light winds."),
        (
            "auto",
            "Our vehicle needs new brake pads; the mechanic replaced them.",
        ),
    ];
    let d = block(p.score(
        ScoreTask {
            query: "car repair",
            documents: &docs,
        },
        Deadline::after(Duration::from_secs(60)),
    ))
    .expect("scores");
    let s: std::collections::HashMap<_, _> = d.value.into_iter().collect();
    assert!(s["auto"] > s["weather"], "{s:?}");
    assert!(s.values().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn summarize_prefers_the_focused_sentence() {
    let p = EmbeddedProvider::with_embedder(model());
    let sentences = [
        "The city council met on Monday to discuss the budget.",
        "Members argued about road maintenance costs.",
        "A new public library will open in the spring.",
        "The mayor thanked volunteers for their work.",
    ];
    let d = block(p.summarize(
        SummarizeTask {
            sentences: &sentences,
            max_sentences: 1,
            focus: Some("books and reading"),
        },
        Deadline::after(Duration::from_secs(60)),
    ))
    .expect("summarizes");
    assert_eq!(d.value.len(), 1);
    assert_eq!(d.value[0].0, 2, "{:?}", d.value);
    assert_eq!(d.usage.embedded_texts, 5);
}

#[test]
fn a_field_the_document_does_not_contain_stays_null() {
    let p = EmbeddedProvider::with_embedder(model());
    let text = "Hello,\nplease find attached invoice INV-2026-0412 for the October consulting work.\n\
                Invoice number: INV-2026-0412\nAmount due: EUR 1,250.00\n\
                Questions? Write to billing@northwind.example.\n";
    let field = |name: &str| FieldSpec {
        name: name.to_owned(),
        kind: FieldType::String,
        description: None,
        values: None,
    };
    let fields = [
        field("invoice_number"),
        field("purchase_order"),
        field("vat_id"),
    ];
    let d = block(p.extract(
        ExtractTask {
            text,
            fields: &fields,
        },
        Deadline::after(Duration::from_secs(60)),
    ))
    .expect("extracts");
    let names: Vec<&str> = d.value.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["invoice_number"], "{:?}", d.value);
}

/// The first-use examples a new user tries: each must commit to the right label.
#[test]
fn everyday_messages_get_the_label_a_person_would_give() {
    let p = EmbeddedProvider::with_embedder(model());
    type Labels<'a> = &'a [(&'a str, Option<&'a str>)];
    let cases: &[(&str, Labels<'_>, &str)] = &[
        (
            "The food was cold and the waiter ignored us for 40 minutes. Never again.",
            &[("positive", None), ("negative", None), ("neutral", None)],
            "negative",
        ),
        (
            "Congratulations! You have won a $1000 gift card. Click here to claim now.",
            &[("spam", None), ("not_spam", None)],
            "spam",
        ),
        (
            "Apple unveils new iPhone with faster chip and better camera",
            &[
                ("World", None),
                ("Sports", None),
                ("Business", None),
                ("Sci/Tech", None),
            ],
            "Sci/Tech",
        ),
    ];
    for (text, labels, want) in cases {
        let d = block(p.classify(
            ClassifyTask {
                text,
                labels,
                multi_label: false,
            },
            Deadline::after(Duration::from_secs(60)),
        ))
        .expect("classifies");
        let best = d
            .value
            .scores
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("scores");
        assert_eq!(best.0, *want, "{text}: {:?}", d.value.scores);
        assert!(
            best.1 >= d.value.default_threshold,
            "{text}: must commit, {:?} (threshold {})",
            d.value.scores,
            d.value.default_threshold
        );
    }
}

/// The support e-mail of the first-use tour: every declared field is found, none invented.
#[test]
fn a_support_mail_yields_names_ids_addresses_and_stated_booleans() {
    let p = EmbeddedProvider::with_embedder(model());
    let text = "Hi, Maria Gonzalez here from Acme Corp. Our order #A-77812 arrived yesterday and \
                the box was crushed, two of the mugs are broken, so the order is damaged. Ship the \
                replacement to 1200 Market Street, San Francisco, CA 94102. Thanks!";
    let field = |name: &str, kind: FieldType| FieldSpec {
        name: name.to_owned(),
        kind,
        description: None,
        values: None,
    };
    let fields = [
        field("customer_name", FieldType::String),
        field("company", FieldType::String),
        field("order_number", FieldType::String),
        field("shipping_address", FieldType::String),
        field("is_damaged", FieldType::Boolean),
        field("tracking_number", FieldType::String),
    ];
    let d = block(p.extract(
        ExtractTask {
            text,
            fields: &fields,
        },
        Deadline::after(Duration::from_secs(60)),
    ))
    .expect("extracts");
    let get = |name: &str| {
        d.value
            .iter()
            .find(|f| f.name == name)
            .map(|f| serde_json::to_value(&f.value).expect("serialises"))
    };
    assert_eq!(
        get("customer_name"),
        Some(serde_json::json!("Maria Gonzalez"))
    );
    assert_eq!(get("company"), Some(serde_json::json!("Acme Corp.")));
    assert_eq!(get("order_number"), Some(serde_json::json!("A-77812")));
    assert_eq!(
        get("shipping_address"),
        Some(serde_json::json!(
            "1200 Market Street, San Francisco, CA 94102"
        ))
    );
    assert_eq!(get("is_damaged"), Some(serde_json::json!(true)));
    assert_eq!(get("tracking_number"), None, "{:?}", d.value);
}

/// Multi-label: each label on its own scale. A message about two of the labels selects both;
/// a message about none of them is far less sure of every label. (Calibrated on the own
/// messages, the default threshold still selects something for 3 of 18 off-topic ones; this
/// recipe is one of them, at 0.54 for `card_arrival`.)
#[test]
fn multi_label_selects_what_a_message_is_about_and_is_unsure_of_unrelated_text() {
    let p = EmbeddedProvider::with_embedder(model());
    let run = |text: &str| {
        block(p.classify(
            ClassifyTask {
                text,
                labels: BANK_LABELS,
                multi_label: true,
            },
            Deadline::after(Duration::from_secs(60)),
        ))
        .expect("classifies")
        .value
    };
    let d = run("My new card still hasn't arrived, and what is today's exchange rate for euros?");
    let selected: Vec<&str> = d
        .scores
        .iter()
        .filter(|s| s.1 >= d.default_threshold)
        .map(|s| s.0.as_str())
        .collect();
    eprintln!("two topics: {:?}", d.scores);
    assert!(
        selected.contains(&"card_arrival") && selected.contains(&"exchange_rate"),
        "{:?}",
        d.scores
    );
    let d_about = d;
    let d = run("The recipe needs two eggs and a cup of flour");
    eprintln!("off-topic: {:?}", d.scores);
    let floor = d_about
        .scores
        .iter()
        .filter(|s| s.0 != "lost_or_stolen_card")
        .map(|s| s.1)
        .fold(1.0f32, f32::min);
    assert!(
        d.scores.iter().all(|s| s.1 < 0.7 && s.1 < floor - 0.2),
        "{:?} against {floor}",
        d.scores
    );
}
