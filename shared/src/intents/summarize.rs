//! Summarize: segment the document, let the provider pick salient sentences, and return them
//! verbatim and in document order, so an extractive summary can never contain words the author
//! did not write. An abstractive summary is the model's own text, returned with the input
//! sentences it cites, each checked to exist.

use std::collections::BTreeMap;

use crate::contract::summarize::{
    SummarizeRequest, SummarizeResponse, SummarySentence, SummaryStyle,
};
use crate::contract::{Span, Usage};
use crate::engine::text::split_sentences;
use crate::problem::ApiError;
use crate::provider::{Deadline, Provider, SummarizeTask};

use super::{Outcome, round4};

pub async fn summarize(
    provider: &dyn Provider,
    request: &SummarizeRequest,
    deadline: Deadline,
) -> Result<Outcome<SummarizeResponse>, ApiError> {
    let text = request.text.as_str();
    let sentences = split_sentences(text);
    let sentence_texts: Vec<&str> = sentences.iter().map(|s| s.text(text)).collect();
    let max = usize::from(request.max_sentences);

    if request.style == SummaryStyle::Abstractive {
        return abstractive(provider, request, &sentences, &sentence_texts, deadline).await;
    }

    if sentences.len() <= max {
        // Nothing to choose: the whole document is its own summary, and no model is needed.
        let chosen: Vec<(usize, f32)> = (0..sentences.len()).map(|i| (i, 1.0)).collect();
        let response = build(text, &sentences, &chosen);
        return Ok(Outcome::without_model_call(
            response,
            Usage::default(),
            provider,
        ));
    }

    let draft = provider
        .summarize(
            SummarizeTask {
                sentences: &sentence_texts,
                max_sentences: max,
                focus: request.focus.as_deref(),
            },
            deadline,
        )
        .await?;

    // Keep the best-scored valid pick per sentence; ignore out-of-range indices.
    let mut best: BTreeMap<usize, f32> = BTreeMap::new();
    for &(index, score) in &draft.value {
        if index >= sentences.len() || !score.is_finite() {
            tracing::warn!(
                index,
                "provider picked a sentence that does not exist; ignored"
            );
            continue;
        }
        let entry = best.entry(index).or_insert(f32::MIN);
        *entry = entry.max(score);
    }
    if best.is_empty() {
        return Err(ApiError::ProviderOutput(
            "the summarizer selected no sentence of the document".into(),
        ));
    }
    let mut ranked: Vec<(usize, f32)> = best.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(max);
    // Scores are relative salience: scale by the best so they land in [0, 1].
    let top = ranked.iter().map(|r| r.1).fold(f32::MIN, f32::max);
    let min = ranked.iter().map(|r| r.1).fold(f32::MAX, f32::min).min(0.0);
    let chosen: Vec<(usize, f32)> = ranked
        .into_iter()
        .map(|(i, s)| {
            let scaled = if top - min > f32::EPSILON {
                (s - min) / (top - min)
            } else {
                1.0
            };
            (i, scaled)
        })
        .collect();
    Ok(Outcome::from_draft(
        build(text, &sentences, &chosen),
        &draft,
        provider,
    ))
}

/// Longest abstractive summary returned, in characters: `max_sentences` (at most 20) long
/// sentences. A model that writes more has not followed the task.
const MAX_ABSTRACT_CHARS: usize = 6_000;

async fn abstractive(
    provider: &dyn Provider,
    request: &SummarizeRequest,
    sentences: &[crate::engine::text::Sentence],
    sentence_texts: &[&str],
    deadline: Deadline,
) -> Result<Outcome<SummarizeResponse>, ApiError> {
    let text = request.text.as_str();
    let draft = provider
        .summarize_abstractive(
            SummarizeTask {
                sentences: sentence_texts,
                max_sentences: usize::from(request.max_sentences),
                focus: request.focus.as_deref(),
            },
            deadline,
        )
        .await?;
    let summary = draft.value.summary.trim();
    if summary.is_empty() {
        return Err(ApiError::ProviderOutput(
            "the model wrote an empty summary".into(),
        ));
    }
    if summary.chars().count() > MAX_ABSTRACT_CHARS {
        return Err(ApiError::ProviderOutput(format!(
            "the model's summary is longer than {MAX_ABSTRACT_CHARS} characters"
        )));
    }
    let mut cited: Vec<(usize, f32)> = Vec::new();
    for &index in &draft.value.sources {
        if index >= sentences.len() {
            tracing::warn!(index, "model cited a sentence that does not exist; ignored");
        } else if !cited.iter().any(|c| c.0 == index) {
            cited.push((index, 1.0));
        }
    }
    let mut response = build(text, sentences, &cited);
    response.summary = summary.to_owned();
    response.style = SummaryStyle::Abstractive;
    Ok(Outcome::from_draft(response, &draft, provider))
}

fn build(
    text: &str,
    sentences: &[crate::engine::text::Sentence],
    chosen: &[(usize, f32)],
) -> SummarizeResponse {
    let mut picked: Vec<(usize, f32)> = chosen.to_vec();
    picked.sort_by_key(|p| p.0);
    let out: Vec<SummarySentence> = picked
        .iter()
        .map(|&(i, score)| {
            let s = &sentences[i];
            SummarySentence {
                text: s.text(text).to_owned(),
                index: i as u64,
                span: Span::from_bytes(text, s.start, s.end),
                score: round4(super::clamp_score(score)),
            }
        })
        .collect();
    SummarizeResponse {
        style: SummaryStyle::Extractive,
        summary: out
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        sentences: out,
        input_sentences: sentences.len() as u64,
    }
}
