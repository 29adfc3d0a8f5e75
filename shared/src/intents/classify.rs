//! Classify: score every caller label, then decide (one label, several, or abstain) with a
//! threshold, so the answer is always one of the caller's labels or an explicit `null`.

use std::collections::HashMap;

use crate::contract::classify::{ClassifyRequest, ClassifyResponse, LabelScore};
use crate::problem::ApiError;
use crate::provider::{ClassifyTask, Deadline, Provider};

use super::{Outcome, clamp_score, round4};

pub async fn classify(
    provider: &dyn Provider,
    request: &ClassifyRequest,
    deadline: Deadline,
) -> Result<Outcome<ClassifyResponse>, ApiError> {
    let labels: Vec<(&str, Option<&str>)> = request
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.description.as_deref()))
        .collect();
    let draft = provider
        .classify(
            ClassifyTask {
                text: &request.text,
                labels: &labels,
                multi_label: request.multi_label,
            },
            deadline,
        )
        .await?;

    // Map the provider's names back onto the caller's exact spelling; anything else is dropped.
    let by_key: HashMap<String, usize> = request
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.trim().to_lowercase(), i))
        .collect();
    let mut scores: Vec<Option<f32>> = vec![None; request.labels.len()];
    for (name, score) in &draft.value.scores {
        match by_key.get(&name.trim().to_lowercase()) {
            Some(&i) if scores[i].is_none() => scores[i] = Some(clamp_score(*score)),
            Some(_) => {}
            None => tracing::warn!("provider returned a label the caller did not give; ignored"),
        }
    }
    if scores.iter().all(Option::is_none) {
        return Err(ApiError::ProviderOutput(
            "the classifier scored none of the given labels".into(),
        ));
    }

    let mut ranked: Vec<(usize, f32)> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| (i, round4(s.unwrap_or(0.0))))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

    let threshold = request
        .threshold
        .map(|t| t as f32)
        .unwrap_or(draft.value.default_threshold)
        .clamp(0.0, 1.0);
    let selected: Vec<String> = ranked
        .iter()
        .filter(|(_, s)| *s >= threshold)
        .take(if request.multi_label { usize::MAX } else { 1 })
        .map(|(i, _)| request.labels[*i].name.clone())
        .collect();
    let response = ClassifyResponse {
        label: selected.first().cloned(),
        labels: ranked
            .iter()
            .map(|(i, s)| LabelScore {
                name: request.labels[*i].name.clone(),
                score: *s,
            })
            .collect(),
        selected,
        threshold,
    };
    Ok(Outcome::from_draft(response, &draft, provider))
}
