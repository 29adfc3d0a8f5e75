//! `PROVIDER_FALLBACK=embedded`: when the generative provider is throttled, unavailable or too
//! slow, the embedded engine answers instead and `meta` says so (`provider`, `model` and
//! `fallback_reason`). Any other failure (a refusal, unusable output, a misconfiguration) is
//! returned as it is: those say something about the request or the deployment, and an answer
//! from another engine would hide it.

use async_trait::async_trait;

use super::{
    AbstractiveDraft, ClassifyDraft, ClassifyTask, Deadline, Draft, ExtractDraft, ExtractTask,
    Provenance, Provider, ProviderError, RecommendDraft, RecommendTask, ScoreDraft, ScoreTask,
    SharedProvider, SummarizeDraft, SummarizeTask, SummaryStream,
};

/// A primary provider with a secondary one for transient failures.
pub struct FallbackProvider {
    primary: SharedProvider,
    secondary: SharedProvider,
}

impl FallbackProvider {
    pub fn new(primary: SharedProvider, secondary: SharedProvider) -> FallbackProvider {
        FallbackProvider { primary, secondary }
    }

    /// Marks a secondary draft: who answered, at what cost, and why.
    fn mark<T>(&self, mut draft: Draft<T>, reason: &'static str) -> Draft<T> {
        tracing::warn!(
            event = "provider_fallback",
            primary = self.primary.name(),
            secondary = self.secondary.name(),
            reason,
            "the fallback engine answered"
        );
        let provenance = draft.provenance.take();
        draft.provenance = Some(Provenance {
            provider: self.secondary.name(),
            model: self.secondary.model().to_owned(),
            cost_usd: provenance.as_ref().map_or(Some(0.0), |p| p.cost_usd),
            stop_reason: None,
            fallback_reason: Some(reason),
        });
        draft
    }
}

/// Tries `$primary`; on a transient failure, `$secondary` with the same task.
macro_rules! with_fallback {
    ($self:ident, $method:ident, $task:ident, $deadline:ident) => {
        match $self.primary.$method($task, $deadline).await {
            Err(err) => match err.fallback_reason() {
                Some(reason) => {
                    let draft = $self.secondary.$method($task, $deadline).await?;
                    Ok($self.mark(draft, reason))
                }
                None => Err(err),
            },
            ok => ok,
        }
    };
}

#[async_trait]
impl Provider for FallbackProvider {
    fn name(&self) -> &'static str {
        self.primary.name()
    }

    fn model(&self) -> &str {
        self.primary.model()
    }

    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<SummarizeDraft>, ProviderError> {
        with_fallback!(self, summarize, task, deadline)
    }

    /// No fallback: the embedded engine cannot write an abstractive summary, and a 422 saying so
    /// would misreport a busy upstream as the caller's mistake.
    async fn summarize_abstractive(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<AbstractiveDraft>, ProviderError> {
        self.primary.summarize_abstractive(task, deadline).await
    }

    /// No fallback either: the embedded engine writes no abstractive summary.
    async fn summarize_stream(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<SummaryStream, ProviderError> {
        self.primary.summarize_stream(task, deadline).await
    }

    async fn classify(
        &self,
        task: ClassifyTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ClassifyDraft>, ProviderError> {
        with_fallback!(self, classify, task, deadline)
    }

    async fn extract(
        &self,
        task: ExtractTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ExtractDraft>, ProviderError> {
        with_fallback!(self, extract, task, deadline)
    }

    async fn recommend(
        &self,
        task: RecommendTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<RecommendDraft>, ProviderError> {
        with_fallback!(self, recommend, task, deadline)
    }

    async fn score(
        &self,
        task: ScoreTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ScoreDraft>, ProviderError> {
        with_fallback!(self, score, task, deadline)
    }
}
