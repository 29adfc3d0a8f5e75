//! Summarize: segment the document, let the provider pick salient sentences, and return them
//! verbatim and in document order, so a summary can never contain words the author did not write.

use std::collections::BTreeMap;

use crate::contract::summarize::{SummarizeRequest, SummarizeResponse, SummarySentence};
use crate::contract::{Span, Usage};
use crate::engine::text::split_sentences;
use crate::problem::ApiError;
use crate::provider::{Provider, SummarizeTask};

use super::{Outcome, round4};

pub async fn summarize(
    provider: &dyn Provider,
    request: &SummarizeRequest,
) -> Result<Outcome<SummarizeResponse>, ApiError> {
    let text = request.text.as_str();
    let sentences = split_sentences(text);
    let sentence_texts: Vec<&str> = sentences.iter().map(|s| s.text(text)).collect();
    let max = usize::from(request.max_sentences);

    if sentences.len() <= max {
        // Nothing to choose: the whole document is its own summary, and no model is needed.
        let chosen: Vec<(usize, f32)> = (0..sentences.len()).map(|i| (i, 1.0)).collect();
        let response = build(text, &sentences, &chosen);
        return Ok(Outcome::new(response, Usage::default(), provider));
    }

    let draft = provider
        .summarize(SummarizeTask {
            sentences: &sentence_texts,
            max_sentences: max,
            focus: request.focus.as_deref(),
        })
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
    Ok(Outcome::new(
        build(text, &sentences, &chosen),
        draft.usage,
        provider,
    ))
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
        summary: out
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        sentences: out,
        input_sentences: sentences.len() as u64,
    }
}
