//! The summary as a sequence of pieces: text deltas, then exactly one end (done or failed).
//!
//! Abstractive summaries come from the provider's token stream and are checked when it ends:
//! a stream cut by the token limit, refused, empty, over the length limit or closed before its
//! end is a failure, never a `done`. Extractive summaries are computed first (by the same intent
//! code as the buffered route, so any rejection happens before the first byte) and then sent one
//! sentence a piece, so the route works without any credentials.

use futures_util::stream::{self, BoxStream, StreamExt};

use crate::contract::Usage;
use crate::contract::summarize::{SummarizeRequest, SummaryStyle};
use crate::engine::text::split_sentences;
use crate::intents;
use crate::problem::ApiError;
use crate::provider::generative::{RefusalKind, StopReason, TextEvent, pricing};
use crate::provider::{Deadline, Provider, SummarizeTask, SummaryStream};

/// Longest streamed summary, in characters (as for the buffered route).
pub const MAX_SUMMARY_CHARS: usize = 6_000;

/// What a finished piece of work cost, for `done` and the request log.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub stop_reason: String,
}

/// One step of the stream.
#[derive(Debug)]
pub enum Piece {
    Delta(String),
    /// The whole summary, checked; the last piece.
    Done {
        summary: String,
        style: SummaryStyle,
        accounting: Accounting,
    },
    /// The stream failed; the last piece. Accounting when the model reported usage.
    Failed(ApiError, Option<Accounting>),
}

/// A started summary: who writes it and its pieces.
pub struct Opened {
    pub provider: &'static str,
    pub model: String,
    pub pieces: BoxStream<'static, Piece>,
}

/// Starts the summary. Errors here happen before the first byte and become problem responses.
pub async fn open(
    provider: &dyn Provider,
    request: &SummarizeRequest,
    deadline: Deadline,
) -> Result<Opened, ApiError> {
    match request.style {
        SummaryStyle::Extractive => extractive(provider, request, deadline).await,
        SummaryStyle::Abstractive => {
            let text = request.text.as_str();
            let sentences = split_sentences(text);
            let sentence_texts: Vec<&str> = sentences.iter().map(|s| s.text(text)).collect();
            let task = SummarizeTask {
                sentences: &sentence_texts,
                max_sentences: usize::from(request.max_sentences),
                focus: request.focus.as_deref(),
            };
            let upstream = provider.summarize_stream(task, deadline).await?;
            Ok(Opened {
                provider: provider.name(),
                model: provider.model().to_owned(),
                pieces: abstractive(upstream, provider.name(), provider.model().to_owned()),
            })
        }
    }
}

async fn extractive(
    provider: &dyn Provider,
    request: &SummarizeRequest,
    deadline: Deadline,
) -> Result<Opened, ApiError> {
    let outcome = intents::summarize::summarize(provider, request, deadline).await?;
    let mut pieces: Vec<Piece> = outcome
        .result
        .sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Piece::Delta(if i == 0 {
                s.text.clone()
            } else {
                format!(" {}", s.text)
            })
        })
        .collect();
    pieces.push(Piece::Done {
        summary: outcome.result.summary,
        style: SummaryStyle::Extractive,
        accounting: Accounting {
            usage: outcome.usage,
            cost_usd: outcome.cost_usd,
            stop_reason: outcome.stop_reason.unwrap_or_else(|| "complete".to_owned()),
        },
    });
    Ok(Opened {
        provider: outcome.provider,
        model: outcome.model,
        pieces: stream::iter(pieces).boxed(),
    })
}

struct Assembly {
    upstream: SummaryStream,
    text: String,
    provider: &'static str,
    model: String,
    ended: bool,
}

/// Turns a model's token stream into pieces, checking the whole when it ends.
pub fn abstractive(
    upstream: SummaryStream,
    provider: &'static str,
    model: String,
) -> BoxStream<'static, Piece> {
    let state = Assembly {
        upstream,
        text: String::new(),
        provider,
        model,
        ended: false,
    };
    stream::unfold(state, |mut st| async move {
        if st.ended {
            return None;
        }
        loop {
            let piece = match st.upstream.next().await {
                Some(Ok(TextEvent::Delta(text))) => {
                    if text.is_empty() {
                        continue;
                    }
                    st.text.push_str(&text);
                    if st.text.chars().count() > MAX_SUMMARY_CHARS {
                        Piece::Failed(
                            ApiError::ProviderOutput(format!(
                                "the model's summary is longer than {MAX_SUMMARY_CHARS} characters"
                            )),
                            None,
                        )
                    } else {
                        return Some((Piece::Delta(text), st));
                    }
                }
                Some(Ok(TextEvent::Finished { stop, usage, .. })) => {
                    let usage = Usage {
                        input_tokens: usage.input,
                        output_tokens: usage.output,
                        embedded_texts: 0,
                        cache_read_tokens: usage.cache_read,
                        cache_write_tokens: usage.cache_write,
                        attempts: Some(1),
                        ..Usage::default()
                    };
                    let tokens = crate::provider::generative::TokenUsage {
                        input: usage.input_tokens,
                        output: usage.output_tokens,
                        cache_read: usage.cache_read_tokens,
                        cache_write: usage.cache_write_tokens,
                    };
                    let accounting = Accounting {
                        usage,
                        cost_usd: pricing::cost_usd(st.provider, &st.model, &tokens),
                        stop_reason: stop.as_str().to_owned(),
                    };
                    finish(&st.text, stop, accounting)
                }
                Some(Err(err)) => Piece::Failed(ApiError::from(err), None),
                // Closed without its end: the summary may be cut anywhere.
                None => Piece::Failed(
                    ApiError::Unavailable {
                        dependency: crate::intents::MODEL_PROVIDER,
                        retry_after_s: 1,
                    },
                    None,
                ),
            };
            st.ended = true;
            return Some((piece, st));
        }
    })
    .boxed()
}

/// The last piece of a stream the model ended itself.
fn finish(text: &str, stop: StopReason, accounting: Accounting) -> Piece {
    let failure = match stop {
        StopReason::Complete if text.trim().is_empty() => {
            ApiError::ProviderOutput("the model wrote an empty summary".to_owned())
        }
        StopReason::Complete => {
            return Piece::Done {
                summary: text.trim().to_owned(),
                style: SummaryStyle::Abstractive,
                accounting,
            };
        }
        StopReason::MaxTokens => ApiError::ProviderTruncated(
            "the summary was cut off by the model's output token limit".to_owned(),
        ),
        StopReason::Refused(kind) => ApiError::ProviderRefused(
            match kind {
                RefusalKind::Model => "the model refused to answer this request",
                RefusalKind::ContentFilter => "the provider's content filter stopped the answer",
                RefusalKind::Guardrail => "the configured guardrail intervened",
            }
            .to_owned(),
        ),
        StopReason::Other(reason) => ApiError::ProviderOutput(format!(
            "the model stopped for an unexpected reason ({})",
            reason.chars().take(60).collect::<String>()
        )),
    };
    Piece::Failed(failure, Some(accounting))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderError;
    use crate::provider::generative::TokenUsage;

    fn upstream(items: Vec<Result<TextEvent, ProviderError>>) -> SummaryStream {
        Box::pin(stream::iter(items))
    }

    fn finished(stop: StopReason) -> Result<TextEvent, ProviderError> {
        Ok(TextEvent::Finished {
            stop,
            usage: TokenUsage {
                input: 500,
                output: 40,
                cache_read: None,
                cache_write: None,
            },
            model: None,
        })
    }

    async fn collect(items: Vec<Result<TextEvent, ProviderError>>) -> Vec<Piece> {
        abstractive(upstream(items), "openai", "gpt-4o-mini".to_owned())
            .collect()
            .await
    }

    #[tokio::test]
    async fn deltas_then_one_checked_done() {
        let pieces = collect(vec![
            Ok(TextEvent::Delta("Fares ".into())),
            Ok(TextEvent::Delta(String::new())),
            Ok(TextEvent::Delta("rise.".into())),
            finished(StopReason::Complete),
        ])
        .await;
        assert_eq!(pieces.len(), 3, "{pieces:?}");
        let Piece::Done {
            summary,
            accounting,
            ..
        } = &pieces[2]
        else {
            panic!("{pieces:?}");
        };
        assert_eq!(summary, "Fares rise.");
        assert_eq!(accounting.usage.input_tokens, 500);
        assert!(accounting.cost_usd.is_some_and(|c| c > 0.0));
    }

    #[tokio::test]
    async fn a_cut_refused_or_unfinished_stream_never_ends_in_done() {
        let cases = vec![
            (finished(StopReason::MaxTokens), "provider-truncated"),
            (
                finished(StopReason::Refused(RefusalKind::Guardrail)),
                "provider-refused",
            ),
            (Err(ProviderError::Timeout), "provider-timeout"),
        ];
        for (last, code) in cases {
            let pieces = collect(vec![Ok(TextEvent::Delta("Half a".into())), last]).await;
            match pieces.last() {
                Some(Piece::Failed(err, _)) => assert_eq!(err.code(), code),
                other => panic!("{code}: {other:?}"),
            }
        }
        let pieces = collect(vec![Ok(TextEvent::Delta("Half a".into()))]).await;
        assert!(matches!(
            pieces.last(),
            Some(Piece::Failed(ApiError::Unavailable { .. }, None))
        ));
        let pieces = collect(vec![finished(StopReason::Complete)]).await;
        assert!(matches!(
            pieces.last(),
            Some(Piece::Failed(ApiError::ProviderOutput(_), Some(_)))
        ));
    }

    #[tokio::test]
    async fn an_overlong_summary_is_stopped() {
        let long = "word ".repeat(MAX_SUMMARY_CHARS / 5 + 10);
        let pieces = collect(vec![
            Ok(TextEvent::Delta(long)),
            finished(StopReason::Complete),
        ])
        .await;
        assert_eq!(pieces.len(), 1);
        assert!(matches!(
            pieces[0],
            Piece::Failed(ApiError::ProviderOutput(_), None)
        ));
    }
}
