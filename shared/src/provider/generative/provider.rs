//! [`GenerativeProvider`]: every intent answered by a language model behind a [`ChatModel`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::intents::{self, Prompt};
use futures_util::StreamExt;

use super::{input_cap, spent_on_failure};

use super::structured::{self, Request, upstream_error};
use super::{ChatModel, OutputSchema, TextCall, pricing};
use crate::contract::Usage;
use crate::provider::{
    AbstractiveDraft, ClassifyDraft, ClassifyTask, Deadline, Draft, ExtractDraft, ExtractTask,
    Provenance, Provider, ProviderError, RecommendDraft, RecommendTask, ScoreDraft, ScoreTask,
    SummarizeDraft, SummarizeTask, SummaryStream,
};

/// Answers every intent with a language model behind a [`ChatModel`], through the intent's fixed
/// schema and decoder and the shared repair loop.
pub struct GenerativeProvider {
    chat: Arc<dyn ChatModel>,
    /// `MAX_INPUT_TOKENS`: prompts estimated above it are refused before any call.
    max_input_tokens: Option<u64>,
}

impl GenerativeProvider {
    /// A provider without an input cap (see [`GenerativeProvider::with_max_input_tokens`]).
    pub fn new(chat: Arc<dyn ChatModel>) -> GenerativeProvider {
        GenerativeProvider {
            chat,
            max_input_tokens: None,
        }
    }

    /// Refuses requests whose prompt is estimated above `cap` input tokens (`None`: no cap).
    pub fn with_max_input_tokens(mut self, cap: Option<u64>) -> GenerativeProvider {
        self.max_input_tokens = cap;
        self
    }

    async fn answer<T>(
        &self,
        intent: &'static str,
        prompt: Prompt,
        schema: &OutputSchema,
        deadline: Deadline,
        decode: impl Fn(&Value) -> Result<T, Vec<String>>,
    ) -> Result<Draft<T>, ProviderError> {
        input_cap::check(self.max_input_tokens, &prompt, Some(schema))?;
        let request = Request {
            intent,
            prompt: &prompt,
            schema,
            deadline,
        };
        let (result, spend) = structured::run(self.chat.as_ref(), request, decode).await;
        let provider = self.chat.provider();
        let model = self.chat.model();
        let usage = Usage {
            input_tokens: spend.usage.input,
            output_tokens: spend.usage.output,
            embedded_texts: 0,
            cache_read_tokens: spend.usage.cache_read,
            cache_write_tokens: spend.usage.cache_write,
            attempts: Some(spend.attempts),
            ..Usage::default()
        };
        let cost_usd = pricing::cost_usd(provider, model, &spend.usage);
        if let Err(err) = &result {
            // A failed request was still billed for its calls: its request log item says so.
            spent_on_failure::record(spent_on_failure::Spent {
                provider,
                model: model.to_owned(),
                usage,
                cost_usd,
                stop_reason: spend.stop.as_ref().map(|s| s.as_str().to_owned()),
            });
            tracing::warn!(
                event = "model_spend",
                intent,
                provider,
                model,
                attempts = spend.attempts,
                input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens,
                cost_usd = cost_usd.unwrap_or(0.0),
                error = %err,
                "model calls of a failed request"
            );
        }
        let value = result?;
        Ok(Draft {
            value,
            usage,
            provenance: Some(Provenance {
                provider,
                model: model.to_owned(),
                cost_usd,
                stop_reason: spend.stop.map(|s| s.as_str().to_owned()),
                fallback_reason: None,
            }),
        })
    }
}

#[async_trait]
impl Provider for GenerativeProvider {
    fn name(&self) -> &'static str {
        self.chat.provider()
    }

    fn model(&self) -> &str {
        self.chat.model()
    }

    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<SummarizeDraft>, ProviderError> {
        self.answer(
            "summarize",
            intents::summarize::extractive_prompt(&task),
            &intents::summarize::EXTRACTIVE_SCHEMA,
            deadline,
            |v| intents::summarize::decode_extractive(v, &task),
        )
        .await
    }

    async fn summarize_abstractive(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<AbstractiveDraft>, ProviderError> {
        self.answer(
            "summarize",
            intents::summarize::abstractive_prompt(&task),
            &intents::summarize::ABSTRACTIVE_SCHEMA,
            deadline,
            |v| intents::summarize::decode_abstractive(v, &task),
        )
        .await
    }

    async fn summarize_stream(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<SummaryStream, ProviderError> {
        let prompt = intents::summarize::streamed_prompt(&task);
        input_cap::check(self.max_input_tokens, &prompt, None)?;
        let call = TextCall {
            intent: "summarize",
            system: prompt.system,
            user: &prompt.user,
            max_tokens: prompt.max_tokens,
            deadline,
        };
        match self.chat.stream_text(&call).await {
            Ok(stream) => Ok(Box::pin(stream.map(|item| item.map_err(upstream_error)))),
            Err(err) => {
                tracing::warn!(
                    event = "model_call",
                    intent = "summarize",
                    provider = self.chat.provider(),
                    model = self.chat.model(),
                    error = %err,
                    "streamed model call failed to start"
                );
                Err(upstream_error(err))
            }
        }
    }

    async fn classify(
        &self,
        task: ClassifyTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ClassifyDraft>, ProviderError> {
        self.answer(
            "classify",
            intents::classify::prompt(&task),
            &intents::classify::SCHEMA,
            deadline,
            |v| intents::classify::decode(v, &task),
        )
        .await
    }

    async fn extract(
        &self,
        task: ExtractTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ExtractDraft>, ProviderError> {
        self.answer(
            "extract",
            intents::extract::prompt(&task),
            &intents::extract::SCHEMA,
            deadline,
            |v| intents::extract::decode(v, &task),
        )
        .await
    }

    async fn recommend(
        &self,
        task: RecommendTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<RecommendDraft>, ProviderError> {
        self.answer(
            "recommend",
            intents::recommend::prompt(&task),
            &intents::recommend::SCHEMA,
            deadline,
            |v| intents::recommend::decode(v, &task),
        )
        .await
    }

    async fn score(
        &self,
        task: ScoreTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ScoreDraft>, ProviderError> {
        self.answer(
            "score",
            intents::score::prompt(&task),
            &intents::score::SCHEMA,
            deadline,
            |v| intents::score::decode(v, &task),
        )
        .await
    }
}
