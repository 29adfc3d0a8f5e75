//! score: a relevance score per numbered document; every document must be scored.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{DATA_RULE, Prompt, block, budget, check_index, check_score, clip, object, parse};
use crate::provider::generative::OutputSchema;
use crate::provider::{ScoreDraft, ScoreTask};

/// Most characters of documents put into one prompt (about 30k tokens), shared among the
/// documents; a single document gets at most [`MAX_DOCUMENT_CHARS`]. Relevance is judged from
/// the beginning of long documents, as a reader skimming a result list would.
const PROMPT_DOCUMENT_CHARS: usize = 120_000;
const MAX_DOCUMENT_CHARS: usize = 4_000;

pub static SCHEMA: LazyLock<OutputSchema> = LazyLock::new(|| OutputSchema {
    name: "relevance_scores",
    description: "The relevance of every numbered document to the query.",
    schema: object(json!({
        "scores": {
            "type": "array",
            "description": "Exactly one entry per document.",
            "items": object(json!({
                "index": {"type": "integer", "description": "The document's number."},
                "score": {"type": "number", "description": "Relevance from 0 (unrelated) to 1 (answers the query)."},
            })),
        },
    })),
});

static SYSTEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "You judge search results. The user gives a query and numbered documents. Score every \
         document's relevance to the query from 0 to 1: 1 when it directly answers or matches \
         the query, around 0.5 when it is about the topic without answering it, 0 when it is \
         unrelated. Judge each document on its own content.\n\n{DATA_RULE}"
    )
});

pub fn prompt(task: &ScoreTask<'_>) -> Prompt {
    let n = task.documents.len().max(1);
    let per_document = (PROMPT_DOCUMENT_CHARS / n).min(MAX_DOCUMENT_CHARS);
    let documents: Vec<String> = task
        .documents
        .iter()
        .enumerate()
        .map(|(i, (_, text))| format!("[{i}] {}", clip(text, per_document).replace('\n', " ")))
        .collect();
    Prompt {
        system: SYSTEM.as_str(),
        user: format!(
            "Score all {} documents.\n\nQuery:\n{}\n\nDocuments:\n{}",
            task.documents.len(),
            block("query", task.query),
            block("document", &documents.join("\n"))
        ),
        max_tokens: budget(40, 16, task.documents.len(), 4096),
    }
}

#[derive(Deserialize)]
struct Answer {
    scores: Vec<Scored>,
}

#[derive(Deserialize)]
struct Scored {
    index: i64,
    score: f64,
}

pub fn decode(answer: &Value, task: &ScoreTask<'_>) -> Result<ScoreDraft, Vec<String>> {
    let parsed: Answer = parse(answer)?;
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    let mut scores = Vec::with_capacity(task.documents.len());
    for (k, entry) in parsed.scores.iter().enumerate() {
        let index = check_index(
            entry.index,
            task.documents.len(),
            &mut seen,
            &format!("/scores/{k}/index"),
            "document",
            &mut errors,
        );
        let score = check_score(entry.score, &format!("/scores/{k}/score"), &mut errors);
        if let (Some(i), Some(s)) = (index, score) {
            scores.push((task.documents[i].0.to_owned(), s));
        }
    }
    seen.resize(task.documents.len(), false);
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
        errors.push(format!(
            "/scores: documents {}{} have no score; score every document",
            shown.join(", "),
            if missing.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    if errors.is_empty() {
        Ok(scores)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &[(&str, &str)] = &[("a", "cats purr"), ("b", "dogs bark")];

    fn task() -> ScoreTask<'static> {
        ScoreTask {
            query: "cats",
            documents: DOCS,
        }
    }

    #[test]
    fn every_document_must_be_scored_once() {
        let ok = decode(
            &json!({"scores": [{"index": 0, "score": 0.9}, {"index": 1, "score": 0.1}]}),
            &task(),
        )
        .expect("valid");
        assert_eq!(ok, vec![("a".to_owned(), 0.9), ("b".to_owned(), 0.1)]);
        let errors = decode(&json!({"scores": [{"index": 0, "score": 0.9}]}), &task())
            .expect_err("b is missing");
        assert!(
            errors[0].contains("documents 1 have no score"),
            "{errors:?}"
        );
    }

    #[test]
    fn long_documents_are_clipped_in_the_prompt() {
        let long = "word ".repeat(5_000);
        let docs = [("a", long.as_str())];
        let p = prompt(&ScoreTask {
            query: "q",
            documents: &docs,
        });
        assert!(p.user.len() < MAX_DOCUMENT_CHARS + 500, "{}", p.user.len());
        assert!(p.user.contains("[...]"));
    }
}
