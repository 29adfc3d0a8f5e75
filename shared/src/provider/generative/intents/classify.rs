//! classify: a probability per caller label, labels referred to by their number.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{DATA_RULE, Prompt, block, budget, check_index, check_score, object, parse};
use crate::provider::generative::OutputSchema;
use crate::provider::{ClassifyDraft, ClassifyTask};

/// Threshold a model's probabilities are read against when the caller gives none: a label is
/// chosen only when the model thinks it more likely than not, so abstention stays explicit.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

pub static SCHEMA: LazyLock<OutputSchema> = LazyLock::new(|| OutputSchema {
    name: "classification",
    description: "The probability of each numbered label for the document.",
    schema: object(json!({
        "labels": {
            "type": "array",
            "description": "One entry per label that may apply; labels left out score 0.",
            "items": object(json!({
                "index": {"type": "integer", "description": "The label's number."},
                "score": {"type": "number", "description": "Probability from 0 to 1."},
            })),
        },
    })),
});

const SYSTEM_SINGLE: &str = "You classify a document into exactly one of a numbered list of \
labels given by the user. For each label that could apply, give the probability (0 to 1) that it \
is the right one; the probabilities should add up to about 1. If no label fits the document, give \
every label a low probability: do not force a choice. Labels that clearly do not apply may be \
left out.";

const SYSTEM_MULTI: &str = "You tag a document with every label that applies from a numbered \
list of labels given by the user. For each label, give the probability (0 to 1) that it applies, \
independently of the others: several labels can be likely at once, and none at all if nothing \
fits. Labels that clearly do not apply may be left out.";

static SINGLE: LazyLock<String> = LazyLock::new(|| format!("{SYSTEM_SINGLE}\n\n{DATA_RULE}"));
static MULTI: LazyLock<String> = LazyLock::new(|| format!("{SYSTEM_MULTI}\n\n{DATA_RULE}"));

pub fn prompt(task: &ClassifyTask<'_>) -> Prompt {
    let system = if task.multi_label {
        MULTI.as_str()
    } else {
        SINGLE.as_str()
    };
    let labels: Vec<String> = task
        .labels
        .iter()
        .enumerate()
        .map(|(i, (name, description))| match description {
            Some(d) => format!("[{i}] {name}: {d}"),
            None => format!("[{i}] {name}"),
        })
        .collect();
    Prompt {
        system,
        user: format!(
            "Labels:\n{}\n\nDocument:\n{}",
            block("items", &labels.join("\n")),
            block("document", task.text)
        ),
        max_tokens: budget(40, 16, task.labels.len(), 2048),
    }
}

#[derive(Deserialize)]
struct Answer {
    labels: Vec<Scored>,
}

#[derive(Deserialize)]
struct Scored {
    index: i64,
    score: f64,
}

pub fn decode(answer: &Value, task: &ClassifyTask<'_>) -> Result<ClassifyDraft, Vec<String>> {
    let parsed: Answer = parse(answer)?;
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    let mut scores = Vec::with_capacity(parsed.labels.len());
    for (k, entry) in parsed.labels.iter().enumerate() {
        let pointer = format!("/labels/{k}");
        let index = check_index(
            entry.index,
            task.labels.len(),
            &mut seen,
            &format!("{pointer}/index"),
            "label",
            &mut errors,
        );
        let score = check_score(entry.score, &format!("{pointer}/score"), &mut errors);
        if let (Some(i), Some(s)) = (index, score) {
            scores.push((task.labels[i].0.to_owned(), s));
        }
    }
    if parsed.labels.is_empty() {
        errors.push("/labels: score at least the labels that could apply".to_owned());
    }
    if errors.is_empty() {
        Ok(ClassifyDraft {
            scores,
            default_threshold: DEFAULT_THRESHOLD,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: &[(&str, Option<&str>)] =
        &[("billing", Some("charges and refunds")), ("shipping", None)];

    fn task() -> ClassifyTask<'static> {
        ClassifyTask {
            text: "I was charged twice",
            labels: LABELS,
            multi_label: false,
        }
    }

    #[test]
    fn labels_are_numbered_in_the_prompt_and_never_in_the_schema() {
        let p = prompt(&task());
        assert!(
            p.user.contains("[0] billing: charges and refunds"),
            "{}",
            p.user
        );
        assert!(p.user.contains("[1] shipping"));
        assert!(p.system.contains("never instructions"));
        assert!(!SCHEMA.schema.to_string().contains("billing"));
    }

    #[test]
    fn scores_map_back_to_the_callers_labels() {
        let d = decode(
            &json!({"labels": [{"index": 1, "score": 0.2}, {"index": 0, "score": 0.8}]}),
            &task(),
        )
        .expect("valid");
        assert_eq!(
            d.scores,
            vec![("shipping".to_owned(), 0.2), ("billing".to_owned(), 0.8)]
        );
        assert_eq!(d.default_threshold, DEFAULT_THRESHOLD);
    }

    #[test]
    fn unknown_or_repeated_labels_and_wrong_types_are_errors() {
        let errors = decode(
            &json!({"labels": [{"index": 0, "score": 0.5}, {"index": 0, "score": 0.1}, {"index": 7, "score": 0.4}]}),
            &task(),
        )
        .expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        let errors = decode(&json!({"labels": [{"index": 0, "score": "high"}]}), &task())
            .expect_err("invalid");
        assert!(errors[0].starts_with("/labels/0/score"), "{errors:?}");
        assert!(decode(&json!({"labels": []}), &task()).is_err());
        assert!(decode(&json!({"label": "billing"}), &task()).is_err());
    }
}
