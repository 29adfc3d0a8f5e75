//! Recommend: rank eligible candidates for a profile with diversity, each with a reason. The
//! response can never contain an excluded, liked, unknown or repeated id, whatever the provider
//! returns.

use std::collections::{HashMap, HashSet};

use crate::contract::recommend::{RecommendRequest, RecommendResponse, Recommendation};
use crate::problem::ApiError;
use crate::provider::{Deadline, Provider, RecommendTask};

use super::{Outcome, clamp_score, round4};

/// Longest reason returned; a generative provider could otherwise write an essay.
const MAX_REASON_CHARS: usize = 300;

pub async fn recommend(
    provider: &dyn Provider,
    request: &RecommendRequest,
    deadline: Deadline,
) -> Result<Outcome<RecommendResponse>, ApiError> {
    let items: Vec<(&str, String)> = request
        .items
        .iter()
        .map(|item| {
            let mut text = item.text.clone();
            if !item.tags.is_empty() {
                text.push_str(" (");
                text.push_str(&item.tags.join(", "));
                text.push(')');
            }
            (item.id.as_str(), text)
        })
        .collect();
    let position: HashMap<&str, usize> =
        items.iter().enumerate().map(|(i, it)| (it.0, i)).collect();
    let liked: Vec<usize> = request
        .profile
        .liked_ids
        .iter()
        .filter_map(|id| position.get(id.as_str()).copied())
        .collect();
    let excluded: HashSet<&str> = request.exclude_ids.iter().map(String::as_str).collect();
    let eligible: Vec<usize> = (0..items.len())
        .filter(|i| !excluded.contains(items[*i].0) && !liked.contains(i))
        .collect();
    let limit = request.limit as usize;

    if eligible.is_empty() {
        return Ok(Outcome::without_model_call(
            RecommendResponse { items: Vec::new() },
            Default::default(),
            provider,
        ));
    }

    let draft = provider
        .recommend(
            RecommendTask {
                profile_text: request.profile.text.as_deref(),
                liked: &liked,
                items: &items,
                eligible: &eligible,
                limit,
                diversity: request.diversity as f32,
            },
            deadline,
        )
        .await?;

    let allowed: HashSet<&str> = eligible.iter().map(|&i| items[i].0).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for rec in &draft.value {
        if !allowed.contains(rec.id.as_str()) || !seen.insert(rec.id.clone()) {
            tracing::warn!("provider recommended an ineligible or repeated id; dropped");
            continue;
        }
        let reason = if rec.reason.trim().is_empty() {
            "Related to your profile.".to_owned()
        } else {
            rec.reason.trim().chars().take(MAX_REASON_CHARS).collect()
        };
        out.push(Recommendation {
            id: rec.id.clone(),
            score: round4(clamp_score(rec.score)),
            reason,
        });
        if out.len() == limit {
            break;
        }
    }
    if out.is_empty() {
        return Err(ApiError::ProviderOutput(
            "the recommender returned no eligible item".into(),
        ));
    }
    Ok(Outcome::from_draft(
        RecommendResponse { items: out },
        &draft,
        provider,
    ))
}
