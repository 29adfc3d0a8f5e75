//! Score: relevance of each document to a query, most relevant first.

use std::collections::HashMap;

use crate::contract::score::{ScoreRequest, ScoreResponse, ScoredDocument};
use crate::problem::ApiError;
use crate::provider::{Deadline, Provider, ScoreTask};

use super::{Outcome, clamp_score, round4};

pub async fn score(
    provider: &dyn Provider,
    request: &ScoreRequest,
    deadline: Deadline,
) -> Result<Outcome<ScoreResponse>, ApiError> {
    let documents: Vec<(&str, &str)> = request
        .documents
        .iter()
        .map(|d| (d.id.as_str(), d.text.as_str()))
        .collect();
    let draft = provider
        .score(
            ScoreTask {
                query: &request.query,
                documents: &documents,
            },
            deadline,
        )
        .await?;

    let index: HashMap<&str, usize> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| (d.0, i))
        .collect();
    let mut scores: Vec<Option<f32>> = vec![None; documents.len()];
    for (id, s) in &draft.value {
        match index.get(id.as_str()) {
            Some(&i) if scores[i].is_none() => scores[i] = Some(clamp_score(*s)),
            Some(_) => {}
            None => tracing::warn!("provider scored an unknown document id; ignored"),
        }
    }
    if let Some(missing) = scores.iter().position(Option::is_none) {
        return Err(ApiError::ProviderOutput(format!(
            "the scorer returned no score for document '{}'",
            documents[missing].0
        )));
    }
    let mut results: Vec<ScoredDocument> = scores
        .into_iter()
        .enumerate()
        .map(|(i, s)| ScoredDocument {
            id: documents[i].0.to_owned(),
            index: i as u64,
            score: round4(s.unwrap_or(0.0)),
        })
        .collect();
    results.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    if let Some(k) = request.top_k {
        results.truncate(k as usize);
    }
    Ok(Outcome::from_draft(
        ScoreResponse { results },
        &draft,
        provider,
    ))
}
