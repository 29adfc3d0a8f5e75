//! recommend: scores and short reasons for numbered candidates; only eligible ones may be named.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{DATA_RULE, Prompt, block, budget, check_index, check_score, clip, object, parse};
use crate::provider::generative::OutputSchema;
use crate::provider::{RecommendDraft, RecommendTask, RecommendedDraft};

/// Most characters of candidate text in one prompt, shared among the candidates.
const PROMPT_ITEM_CHARS: usize = 100_000;
const MAX_ITEM_CHARS: usize = 1_000;

pub static SCHEMA: LazyLock<OutputSchema> = LazyLock::new(|| OutputSchema {
    name: "recommendations",
    description: "The best numbered candidates for the user, best first, with reasons.",
    schema: object(json!({
        "items": {
            "type": "array",
            "items": object(json!({
                "index": {"type": "integer", "description": "The candidate's number."},
                "score": {"type": "number", "description": "Fit from 0 to 1."},
                "reason": {"type": "string", "description": "Why it fits, in one short sentence."},
            })),
        },
    })),
});

static SYSTEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "You recommend items. The user gives a profile (a description and items the person \
         liked) and numbered candidates. Pick the candidates that best fit the profile, best \
         first, score each fit from 0 to 1, and give a short reason (one sentence, at most 25 \
         words) that refers to the profile. Only pick from the numbered candidates. When asked \
         for variety, avoid picking several near-identical candidates.\n\n{DATA_RULE}"
    )
});

pub fn prompt(task: &RecommendTask<'_>) -> Prompt {
    let per_item = (PROMPT_ITEM_CHARS / task.eligible.len().max(1)).min(MAX_ITEM_CHARS);
    let mut profile = String::new();
    if let Some(text) = task.profile_text {
        profile.push_str(text);
    }
    if !task.liked.is_empty() {
        profile.push_str("\nLiked:\n");
        for &i in task.liked {
            profile.push_str("- ");
            profile.push_str(&clip(&task.items[i].1, per_item).replace('\n', " "));
            profile.push('\n');
        }
    }
    let candidates: Vec<String> = task
        .eligible
        .iter()
        .map(|&i| {
            format!(
                "[{i}] {}",
                clip(&task.items[i].1, per_item).replace('\n', " ")
            )
        })
        .collect();
    let variety = if task.diversity >= 0.5 {
        "Prefer variety over similar items."
    } else if task.diversity > 0.0 {
        "Some variety is welcome."
    } else {
        "Rank by fit alone."
    };
    Prompt {
        system: SYSTEM.as_str(),
        user: format!(
            "Recommend at most {} candidates. {variety}\n\nProfile:\n{}\n\nCandidates:\n{}",
            task.limit,
            block("profile", profile.trim()),
            block("items", &candidates.join("\n"))
        ),
        max_tokens: budget(40, 60, task.limit, 4096),
    }
}

#[derive(Deserialize)]
struct Answer {
    items: Vec<Pick>,
}

#[derive(Deserialize)]
struct Pick {
    index: i64,
    score: f64,
    reason: String,
}

pub fn decode(answer: &Value, task: &RecommendTask<'_>) -> Result<RecommendDraft, Vec<String>> {
    let parsed: Answer = parse(answer)?;
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    let mut picks = Vec::with_capacity(parsed.items.len());
    for (k, pick) in parsed.items.iter().enumerate() {
        let pointer = format!("/items/{k}/index");
        let Some(i) = check_index(
            pick.index,
            task.items.len(),
            &mut seen,
            &pointer,
            "candidate",
            &mut errors,
        ) else {
            continue;
        };
        if !task.eligible.contains(&i) {
            errors.push(format!(
                "{pointer}: {i} is not one of the numbered candidates (it is liked or excluded)"
            ));
            continue;
        }
        if let Some(score) = check_score(pick.score, &format!("/items/{k}/score"), &mut errors) {
            picks.push(RecommendedDraft {
                id: task.items[i].0.to_owned(),
                score,
                reason: pick.reason.trim().to_owned(),
            });
        }
    }
    if parsed.items.is_empty() {
        errors.push("/items: recommend at least one candidate".to_owned());
    }
    if errors.is_empty() {
        picks.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(picks)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<(&'static str, String)> {
        vec![
            ("a", "Hiking boots".to_owned()),
            ("b", "Trail map".to_owned()),
            ("c", "Tent".to_owned()),
        ]
    }

    #[test]
    fn only_eligible_candidates_may_be_recommended() {
        let items = items();
        let task = RecommendTask {
            profile_text: Some("likes camping"),
            liked: &[0],
            items: &items,
            eligible: &[1, 2],
            limit: 2,
            diversity: 0.3,
        };
        let p = prompt(&task);
        assert!(
            p.user.contains("[2] Tent") && !p.user.contains("[0] Hiking"),
            "{}",
            p.user
        );
        assert!(p.user.contains("- Hiking boots"));
        let ok = decode(
            &json!({"items": [{"index": 1, "score": 0.4, "reason": "maps"}, {"index": 2, "score": 0.9, "reason": " camping "}]}),
            &task,
        )
        .expect("valid");
        assert_eq!(ok[0].id, "c");
        assert_eq!(ok[0].reason, "camping");
        let errors = decode(
            &json!({"items": [{"index": 0, "score": 0.9, "reason": "liked already"}]}),
            &task,
        )
        .expect_err("a liked item is not a candidate");
        assert!(
            errors[0].contains("not one of the numbered candidates"),
            "{errors:?}"
        );
    }
}
