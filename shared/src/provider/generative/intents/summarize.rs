//! summarize: sentence numbers for an extractive summary, or the model's own text plus the
//! numbers of the sentences it draws on.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{DATA_RULE, Prompt, block, budget, check_index, check_score, object, parse};
use crate::provider::generative::OutputSchema;
use crate::provider::{AbstractiveDraft, SummarizeDraft, SummarizeTask};

pub static EXTRACTIVE_SCHEMA: LazyLock<OutputSchema> = LazyLock::new(|| OutputSchema {
    name: "extractive_summary",
    description: "The numbers of the sentences that best summarise the document.",
    schema: object(json!({
        "sentences": {
            "type": "array",
            "items": object(json!({
                "index": {"type": "integer", "description": "The sentence's number."},
                "salience": {"type": "number", "description": "Importance from 0 to 1."},
            })),
        },
    })),
});

pub static ABSTRACTIVE_SCHEMA: LazyLock<OutputSchema> = LazyLock::new(|| OutputSchema {
    name: "abstractive_summary",
    description: "A summary of the document in your own words, with its source sentences.",
    schema: object(json!({
        "summary": {"type": "string"},
        "source_sentences": {
            "type": "array",
            "description": "Numbers of the document sentences the summary is based on.",
            "items": {"type": "integer"},
        },
    })),
});

static EXTRACTIVE_SYSTEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "You write extractive summaries. The user gives a document split into numbered \
         sentences. Choose the sentences that together best summarise it (the most important \
         facts first, no two saying the same thing) and rate each one's importance from 0 to 1. \
         When a focus is given, prefer sentences about it.\n\n{DATA_RULE}"
    )
});

static ABSTRACTIVE_SYSTEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "You write faithful abstractive summaries. The user gives a document split into \
         numbered sentences. Write a concise summary in plain prose, in the document's language, \
         stating only what the document says: no outside facts, no opinions. When a focus is \
         given, summarise what the document says about it. List the numbers of the sentences \
         your summary is based on.\n\n{DATA_RULE}"
    )
});

static STREAMED_SYSTEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "You write faithful abstractive summaries. The user gives a document split into \
         numbered sentences. Write a concise summary in plain prose, in the document's language, \
         stating only what the document says: no outside facts, no opinions. When a focus is \
         given, summarise what the document says about it. Answer with the summary text alone: \
         no title, no preamble, no sentence numbers, no Markdown.\n\n{DATA_RULE}"
    )
});

fn user(task: &SummarizeTask<'_>, instruction: String) -> String {
    let numbered: Vec<String> = task
        .sentences
        .iter()
        .enumerate()
        .map(|(i, s)| format!("[{i}] {s}"))
        .collect();
    let mut out = instruction;
    if let Some(focus) = task.focus {
        out.push_str("\n\nFocus:\n");
        out.push_str(&block("query", focus));
    }
    out.push_str("\n\nDocument:\n");
    out.push_str(&block("document", &numbered.join("\n")));
    out
}

pub fn extractive_prompt(task: &SummarizeTask<'_>) -> Prompt {
    Prompt {
        system: EXTRACTIVE_SYSTEM.as_str(),
        user: user(
            task,
            format!(
                "Choose at most {} of the {} sentences.",
                task.max_sentences,
                task.sentences.len()
            ),
        ),
        max_tokens: budget(40, 24, task.max_sentences, 1024),
    }
}

pub fn abstractive_prompt(task: &SummarizeTask<'_>) -> Prompt {
    Prompt {
        system: ABSTRACTIVE_SYSTEM.as_str(),
        user: user(
            task,
            format!(
                "Write a summary of at most {} sentences.",
                task.max_sentences
            ),
        ),
        max_tokens: budget(200, 90, task.max_sentences, 4096),
    }
}

/// The streamed variant of [`abstractive_prompt`]: plain text instead of a JSON document, so that
/// each piece the model writes can be shown as it comes.
pub fn streamed_prompt(task: &SummarizeTask<'_>) -> Prompt {
    Prompt {
        system: STREAMED_SYSTEM.as_str(),
        user: user(
            task,
            format!(
                "Write a summary of at most {} sentences.",
                task.max_sentences
            ),
        ),
        max_tokens: budget(200, 90, task.max_sentences, 4096),
    }
}

#[derive(Deserialize)]
struct Extractive {
    sentences: Vec<Pick>,
}

#[derive(Deserialize)]
struct Pick {
    index: i64,
    salience: f64,
}

pub fn decode_extractive(
    answer: &Value,
    task: &SummarizeTask<'_>,
) -> Result<SummarizeDraft, Vec<String>> {
    let parsed: Extractive = parse(answer)?;
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    let mut picks = Vec::with_capacity(parsed.sentences.len());
    for (k, pick) in parsed.sentences.iter().enumerate() {
        let index = check_index(
            pick.index,
            task.sentences.len(),
            &mut seen,
            &format!("/sentences/{k}/index"),
            "sentence",
            &mut errors,
        );
        let salience = check_score(
            pick.salience,
            &format!("/sentences/{k}/salience"),
            &mut errors,
        );
        if let (Some(i), Some(s)) = (index, salience) {
            picks.push((i, s));
        }
    }
    if parsed.sentences.is_empty() {
        errors.push("/sentences: choose at least one sentence".to_owned());
    }
    if errors.is_empty() {
        Ok(picks)
    } else {
        Err(errors)
    }
}

#[derive(Deserialize)]
struct Abstractive {
    summary: String,
    source_sentences: Vec<i64>,
}

pub fn decode_abstractive(
    answer: &Value,
    task: &SummarizeTask<'_>,
) -> Result<AbstractiveDraft, Vec<String>> {
    let parsed: Abstractive = parse(answer)?;
    let mut errors = Vec::new();
    if parsed.summary.trim().is_empty() {
        errors.push("/summary: the summary is empty".to_owned());
    }
    let mut seen = Vec::new();
    let mut sources = Vec::new();
    for (k, &index) in parsed.source_sentences.iter().enumerate() {
        if let Some(i) = check_index(
            index,
            task.sentences.len(),
            &mut seen,
            &format!("/source_sentences/{k}"),
            "sentence",
            &mut errors,
        ) {
            sources.push(i);
        }
    }
    if errors.is_empty() {
        Ok(AbstractiveDraft {
            summary: parsed.summary.trim().to_owned(),
            sources,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTENCES: &[&str] = &["One.", "Two.", "Three."];

    fn task() -> SummarizeTask<'static> {
        SummarizeTask {
            sentences: SENTENCES,
            max_sentences: 2,
            focus: Some("numbers"),
        }
    }

    #[test]
    fn the_prompt_numbers_sentences_and_delimits_the_focus() {
        let p = extractive_prompt(&task());
        assert!(p.user.contains("[2] Three."));
        assert!(p.user.contains("<query>\nnumbers\n</query>"));
        assert!(p.user.starts_with("Choose at most 2 of the 3 sentences."));
    }

    #[test]
    fn extractive_picks_are_checked_against_the_document() {
        let ok = decode_extractive(
            &json!({"sentences": [{"index": 2, "salience": 0.9}, {"index": 0, "salience": 0.4}]}),
            &task(),
        )
        .expect("valid");
        assert_eq!(ok, vec![(2, 0.9), (0, 0.4)]);
        let errors = decode_extractive(
            &json!({"sentences": [{"index": 3, "salience": 0.9}]}),
            &task(),
        )
        .expect_err("no sentence 3");
        assert!(errors[0].contains("/sentences/0/index"), "{errors:?}");
        assert!(decode_extractive(&json!({"sentences": []}), &task()).is_err());
    }

    #[test]
    fn abstractive_summaries_need_text_and_real_sources() {
        let ok = decode_abstractive(
            &json!({"summary": " Numbers go up. ", "source_sentences": [0, 2]}),
            &task(),
        )
        .expect("valid");
        assert_eq!(ok.summary, "Numbers go up.");
        assert_eq!(ok.sources, vec![0, 2]);
        assert!(
            decode_abstractive(&json!({"summary": "", "source_sentences": []}), &task()).is_err()
        );
        assert!(
            decode_abstractive(&json!({"summary": "x", "source_sentences": [9]}), &task()).is_err()
        );
    }
}
