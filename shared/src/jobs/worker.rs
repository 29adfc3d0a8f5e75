//! The worker: consumes the job queue (and its dead-letter queue) the way Lambda's SQS event
//! source mapping delivers it, with partial batch failures.
//!
//! Each message is parsed and handled on its own ([`Worker::handle_message`]), so a bad message
//! never fails the batch; the batch handler only collects the ids of messages to retry
//! (`ReportBatchItemFailures`). What each message does:
//!
//! - Its job is finished (a duplicate delivery) or gone: acknowledged, nothing runs.
//! - Its job is `running` under another attempt's valid lease: retried later.
//! - Otherwise the job is started (a conditional write that also takes over an expired lease),
//!   the intent runs, and the attempt finishes the job only if it still holds it, so one job
//!   gets one result however often its message arrives.
//! - Transient failures (provider throttled or unavailable or slow, storage unavailable) put the
//!   job back to `queued` and retry the message; permanent ones (a refusal, output invalid after
//!   the repair, a bug) fail the job at once.
//! - A message that arrives from the dead-letter queue fails its job, if still unfinished, with
//!   an error that says how many attempts were made and the last transient error.

use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{LambdaEvent, service_fn};
use tracing::Instrument;

use super::input;
use super::payload::{self, PayloadStore};
use super::queue::JobMessage;
use super::service::job_problem;
use super::store::{Finish, JobStore, Start, StoreError};
use super::{Job, now_ms};
use crate::contract::Usage;
use crate::metrics::{ProviderFailure, RequestMetrics};
use crate::problem::ApiError;
use crate::provider::generative::spent_on_failure;
use crate::provider::{Deadline, SharedProvider};
use crate::routes::Function;
use std::sync::Arc;

/// Time kept back from the invocation's deadline to record the outcome.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// Least time left in the invocation for a message's job to be started.
const MIN_TIME_TO_START: Duration = Duration::from_secs(10);
/// Used when the runtime gives no deadline (tests).
const DEFAULT_BUDGET: Duration = Duration::from_secs(300);

pub struct Worker {
    pub store: Arc<dyn JobStore>,
    pub payloads: Arc<dyn PayloadStore>,
    pub provider: SharedProvider,
    /// How long an attempt owns its job (the worker's timeout).
    pub lease: Duration,
    /// Records whose `eventSourceARN` is this are dead letters.
    pub dlq_arn: Option<String>,
    pub inline_max: usize,
}

impl Worker {
    /// The worker from the environment: the provider settings of [`crate::config::Config`]
    /// (with the embedding model loaded by `load` when `MODEL_DIR` is set), `JOBS_TABLE`,
    /// `JOB_BUCKET`, `JOB_LEASE_SECONDS` and `JOB_DLQ_ARN`. Errors name the variable to fix.
    pub async fn from_env<E, F>(load: F) -> anyhow::Result<Worker>
    where
        E: crate::embed::Embedder + 'static,
        F: FnOnce(&std::path::Path) -> Result<E, crate::embed::EmbedError>,
    {
        let lookup = |name: &str| std::env::var(name).ok();
        let config = crate::config::Config::from_env()?;
        let jobs = super::config::JobsConfig::from_lookup(lookup)?;
        let settings = super::config::WorkerConfig::from_lookup(lookup)?;
        let provider = crate::provider::setup::intent_provider(
            config.generative.as_ref(),
            config.fallback_to_embedded,
            config.max_input_tokens,
            config.model_dir.as_deref(),
            config.embedding_cache_bytes,
            load,
        )
        .await?;
        Ok(Worker {
            store: Arc::new(super::dynamo::DynamoJobStore::new(
                crate::store::dynamo::Clients::lazy(),
                jobs.table,
            )),
            payloads: Arc::new(super::payload::S3Payloads::new(jobs.bucket)),
            provider,
            lease: settings.lease,
            dlq_arn: settings.dlq_arn,
            inline_max: super::payload::INLINE_MAX_BYTES,
        })
    }
}

/// What to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Delete it: the job is finished, gone, or was failed by this message.
    Done,
    /// Report it as a batch item failure: SQS delivers it again after the visibility timeout
    /// (and moves it to the dead-letter queue after `maxReceiveCount` receives).
    Retry,
}

/// Runs the Lambda runtime loop with the batch handler.
pub async fn run(worker: Worker) -> Result<(), lambda_runtime::Error> {
    let worker: &'static Worker = Box::leak(Box::new(worker));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        handle_batch(worker, event).await
    }))
    .await
}

/// One SQS batch: every message on its own, failures reported per message.
pub async fn handle_batch(
    worker: &Worker,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let deadline = invocation_deadline(event.context.deadline);
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        let span = tracing::info_span!(
            "job_message",
            message_id = message.message_id.as_deref().unwrap_or("")
        );
        // A message started this late could not finish: leave it to a later invocation rather
        // than start an attempt that the timeout would kill.
        let disposition = if deadline.remaining() < MIN_TIME_TO_START {
            Disposition::Retry
        } else {
            worker
                .handle_message(message, deadline)
                .instrument(span)
                .await
        };
        if disposition == Disposition::Retry {
            match message.message_id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id.to_owned();
                    response.batch_item_failures.push(failure);
                }
                // Without an id a failure cannot be reported for this message alone; failing the
                // invocation retries the batch, which the conditional writes make harmless.
                None => return Err("a message to retry has no messageId".into()),
            }
        }
    }
    Ok(response)
}

/// The invocation's deadline (unix ms from the runtime), less the margin.
fn invocation_deadline(deadline_ms: u64) -> Deadline {
    if deadline_ms == 0 {
        return Deadline::after(DEFAULT_BUDGET);
    }
    let now = now_ms().max(0) as u64;
    Deadline::after(
        Duration::from_millis(deadline_ms.saturating_sub(now)).saturating_sub(DEADLINE_MARGIN),
    )
}

/// Transient: worth another attempt later. Everything else fails the job now.
fn is_transient(err: &ApiError) -> bool {
    matches!(
        err,
        ApiError::Throttled { .. } | ApiError::Unavailable { .. } | ApiError::ProviderTimeout
    )
}

impl Worker {
    pub async fn handle_message(&self, message: &SqsMessage, deadline: Deadline) -> Disposition {
        let from_dlq = self.dlq_arn.is_some() && message.event_source_arn == self.dlq_arn;
        let body = message.body.as_deref().unwrap_or("");
        let job_id = match serde_json::from_str::<JobMessage>(body) {
            Ok(m) if super::is_job_id(&m.job_id) => m.job_id,
            _ => {
                // Not ours to run; kept (through the dead-letter queue) for inspection, never
                // silently dropped from the main queue.
                tracing::error!(body = %body.chars().take(500).collect::<String>(), from_dlq, "unreadable job message");
                return if from_dlq {
                    Disposition::Done
                } else {
                    Disposition::Retry
                };
            }
        };
        let outcome = if from_dlq {
            self.dead_letter(&job_id).await
        } else {
            self.attempt(&job_id, deadline).await
        };
        match outcome {
            Ok(disposition) => disposition,
            Err(e) => {
                tracing::warn!(job_id = %job_id, error = %e, "job storage failed; the message is retried");
                Disposition::Retry
            }
        }
    }

    async fn attempt(&self, job_id: &str, deadline: Deadline) -> Result<Disposition, StoreError> {
        let now = now_ms();
        let lease_until = now + self.lease.as_millis() as i64;
        let job = match self.store.start(job_id, now, lease_until).await? {
            Start::Started(job) => job,
            Start::Finished(job) => {
                tracing::info!(
                    job_id,
                    status = job.status.as_str(),
                    "duplicate message for a finished job"
                );
                return Ok(Disposition::Done);
            }
            Start::Leased { until_ms } => {
                tracing::info!(
                    job_id,
                    lease_until_ms = until_ms,
                    "job is running elsewhere; retried later"
                );
                return Ok(Disposition::Retry);
            }
            Start::Missing => {
                tracing::warn!(job_id, "message for a job that does not exist (expired?)");
                return Ok(Disposition::Done);
            }
        };
        tracing::info!(
            job_id,
            attempt = job.attempts,
            intent = job.intent.as_str(),
            caller_api_key_id = job.caller.api_key_id.as_deref().unwrap_or("-"),
            caller_sub = job.caller.sub.as_deref().unwrap_or("-"),
            caller_client_id = job.caller.client_id.as_deref().unwrap_or("-"),
            "job started"
        );
        let input = match payload::input_of(self.payloads.as_ref(), &job).await {
            Ok(input) => input,
            Err(StoreError::Unavailable(reason)) => {
                return self
                    .release(&job, &format!("the jobs bucket is unavailable: {reason}"))
                    .await;
            }
            Err(StoreError::Unexpected(e)) => {
                tracing::error!(job_id, error = format!("{e:#}"), "job input unreadable");
                return self.fail(&job, ApiError::Unexpected(e)).await;
            }
        };
        let started = std::time::Instant::now();
        let (ran, spent) = spent_on_failure::scope(async {
            let ran = input::run(
                self.provider.as_ref(),
                job.intent,
                &input,
                &job.id,
                deadline,
            )
            .await;
            (ran, spent_on_failure::take())
        })
        .await;
        self.job_metrics(&job, &ran, spent, started.elapsed());
        match ran {
            Ok(ran) => {
                let result = match payload::offload(
                    self.payloads.as_ref(),
                    self.inline_max,
                    payload::result_key(&job.id, job.attempts),
                    ran.envelope,
                )
                .await
                {
                    Ok(result) => result,
                    Err(e) => {
                        return self
                            .release(&job, &format!("storing the result failed: {e}"))
                            .await;
                    }
                };
                if self
                    .store
                    .finish(&job.id, job.attempts, &Finish::Succeeded(result), now_ms())
                    .await?
                {
                    tracing::info!(job_id, attempt = job.attempts, "job succeeded");
                } else {
                    tracing::warn!(
                        job_id,
                        attempt = job.attempts,
                        "lost the job's lease before finishing; the other attempt's result stands"
                    );
                }
                Ok(Disposition::Done)
            }
            Err(err) if is_transient(&err) => {
                let detail = err.to_problem("", "").detail;
                tracing::warn!(job_id, error = %err, "transient failure; the job is retried");
                self.release(&job, &detail).await
            }
            Err(err) => {
                match &err {
                    ApiError::Unexpected(cause) => {
                        tracing::error!(job_id, error = format!("{cause:#}"), "job failed")
                    }
                    other => tracing::info!(job_id, error = %other, "job failed"),
                }
                self.fail(&job, err).await
            }
        }
    }

    /// The metric line of one attempt that ran the intent: the job worker's function, the job's
    /// intent, and what the attempt cost, failed or not.
    fn job_metrics(
        &self,
        job: &Job,
        ran: &Result<input::Ran, ApiError>,
        spent: Option<spent_on_failure::Spent>,
        took: Duration,
    ) {
        let mut metrics = RequestMetrics {
            function: Function::JobWorker,
            intent: Some(job.intent.as_str()),
            provider: Some(self.provider.name()),
            status: 200,
            latency_ms: took.as_millis() as u64,
            usage: Usage::default(),
            cost_usd: None,
            provider_failure: None,
            request_id: &job.id,
        };
        match ran {
            Ok(ran) => {
                metrics.provider = Some(ran.provider);
                metrics.usage = ran.usage;
                metrics.cost_usd = ran.cost_usd;
                metrics.provider_failure = ran.fallback_reason.map(ProviderFailure::of_fallback);
            }
            Err(err) => {
                metrics.status = err.status().as_u16();
                metrics.provider_failure = ProviderFailure::of_error(err);
                if let Some(spent) = spent {
                    metrics.provider = Some(spent.provider);
                    metrics.usage = spent.usage;
                    metrics.cost_usd = spent.cost_usd;
                }
            }
        }
        metrics.emit();
    }

    async fn release(&self, job: &Job, reason: &str) -> Result<Disposition, StoreError> {
        self.store
            .release(&job.id, job.attempts, reason, now_ms())
            .await?;
        Ok(Disposition::Retry)
    }

    async fn fail(&self, job: &Job, err: ApiError) -> Result<Disposition, StoreError> {
        let problem = job_problem(&job.id, err);
        self.store
            .finish(&job.id, job.attempts, &Finish::Failed(problem), now_ms())
            .await?;
        Ok(Disposition::Done)
    }

    /// The job's message exhausted its receives: fail the job if nothing finished it.
    async fn dead_letter(&self, job_id: &str) -> Result<Disposition, StoreError> {
        let now = now_ms();
        let Some(job) = self.store.get(job_id, now).await? else {
            return Ok(Disposition::Done);
        };
        if job.status.is_final() {
            return Ok(Disposition::Done);
        }
        let mut detail = format!(
            "The job could not be completed: it was started {} time(s) without finishing (a \
             worker that ran out of time or kept failing).",
            job.attempts
        );
        if let Some(last) = &job.last_error {
            detail.push_str(&format!(" Last error: {last}"));
        }
        let problem = job_problem(job_id, ApiError::JobAbandoned(detail));
        if self.store.fail_unfinished(job_id, &problem, now).await? {
            tracing::error!(
                job_id,
                attempts = job.attempts,
                "job failed after its message was dead-lettered"
            );
        }
        Ok(Disposition::Done)
    }
}
