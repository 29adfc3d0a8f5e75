//! Submit, status and the worker against the in-memory table, queue and bucket: the state
//! machine, idempotency, at-least-once delivery, leases and the dead-letter path.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};

use super::memory::{MemoryJobStore, MemoryPayloads, MemoryQueue};
use super::payload::PayloadStore;
use super::service::{IdempotencyKey, Jobs};
use super::store::JobStore;
use super::worker::{Disposition, Worker, handle_batch};
use super::{Payload, now_ms};
use crate::caller::Caller;
use crate::contract::jobs::JobStatus;
use crate::problem::ApiError;
use crate::provider::embedded::EmbeddedProvider;
use crate::provider::*;

const SUMMARIZE: &str = r#"{"intent": "summarize", "input": {"text": "The council approved the budget. Buses will run at night. Fares may rise next year.", "max_sentences": 1}}"#;
fn api_key(id: &str) -> Caller {
    Caller {
        api_key_id: Some(id.to_owned()),
        ..Caller::default()
    }
}

const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:jobs-dlq";

/// The embedded engine, except that `summarize` first returns the scripted errors.
struct Scripted {
    inner: EmbeddedProvider,
    failures: Mutex<VecDeque<ProviderError>>,
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    async fn summarize(
        &self,
        task: SummarizeTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<SummarizeDraft>, ProviderError> {
        if let Some(err) = self.failures.lock().expect("must succeed").pop_front() {
            return Err(err);
        }
        self.inner.summarize(task, deadline).await
    }
    async fn classify(
        &self,
        task: ClassifyTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ClassifyDraft>, ProviderError> {
        self.inner.classify(task, deadline).await
    }
    async fn extract(
        &self,
        task: ExtractTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ExtractDraft>, ProviderError> {
        self.inner.extract(task, deadline).await
    }
    async fn recommend(
        &self,
        task: RecommendTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<RecommendDraft>, ProviderError> {
        self.inner.recommend(task, deadline).await
    }
    async fn score(
        &self,
        task: ScoreTask<'_>,
        deadline: Deadline,
    ) -> Result<Draft<ScoreDraft>, ProviderError> {
        self.inner.score(task, deadline).await
    }
}

struct Fixture {
    store: Arc<MemoryJobStore>,
    queue: Arc<MemoryQueue>,
    payloads: Arc<MemoryPayloads>,
    jobs: Jobs,
    worker: Worker,
}

fn fixture(failures: Vec<ProviderError>, inline_max: usize) -> Fixture {
    let store = Arc::new(MemoryJobStore::default());
    let queue = Arc::new(MemoryQueue::default());
    let payloads = Arc::new(MemoryPayloads::default());
    let jobs = Jobs {
        store: store.clone(),
        queue: queue.clone(),
        payloads: payloads.clone(),
        ttl_days: 7,
        inline_max,
        generative: false,
    };
    let worker = Worker {
        store: store.clone(),
        payloads: payloads.clone(),
        provider: Arc::new(Scripted {
            inner: EmbeddedProvider::new(),
            failures: Mutex::new(failures.into()),
        }),
        lease: Duration::from_secs(60),
        dlq_arn: Some(DLQ_ARN.to_owned()),
        inline_max,
    };
    Fixture {
        store,
        queue,
        payloads,
        jobs,
        worker,
    }
}

fn message(id: &str, body: &str, source: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.to_owned());
    m.event_source_arn = Some(source.to_owned());
    m
}

fn job_message(job_id: &str) -> SqsMessage {
    message(
        &format!("m-{job_id}"),
        &format!(r#"{{"job_id":"{job_id}"}}"#),
        "arn:aws:sqs:us-east-1:000000000000:jobs",
    )
}

fn dead_letter(job_id: &str) -> SqsMessage {
    message("d-1", &format!(r#"{{"job_id":"{job_id}"}}"#), DLQ_ARN)
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

/// What `POST /v1/summarize` answers for the job's input, as JSON, with `latency_ms` zeroed.
async fn synchronous_answer(request_id: &str) -> serde_json::Value {
    let body: serde_json::Value = serde_json::from_str(SUMMARIZE).expect("must succeed");
    let request = serde_json::from_value(body["input"].clone()).expect("must succeed");
    let outcome =
        crate::intents::summarize::summarize(&EmbeddedProvider::new(), &request, deadline())
            .await
            .expect("must succeed");
    let mut answer = serde_json::to_value(crate::http::envelope(
        outcome,
        request_id,
        std::time::Instant::now(),
    ))
    .expect("must succeed");
    answer["meta"]["latency_ms"] = 0.into();
    answer
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k.as_bytes()).expect("must succeed")
}

#[tokio::test]
async fn a_submitted_job_runs_once_and_stores_the_synchronous_envelope() {
    let f = fixture(vec![], 150 * 1024);
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(f.queue.sent(), vec![job.id.clone()]);

    let msg = job_message(&job.id);
    assert_eq!(
        f.worker.handle_message(&msg, deadline()).await,
        Disposition::Done
    );
    // The same message again (at-least-once delivery): nothing runs twice.
    assert_eq!(
        f.worker.handle_message(&msg, deadline()).await,
        Disposition::Done
    );

    let stored = f.jobs.get(&job.id).await.expect("must succeed");
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert_eq!(stored.attempts, 1);
    let resource = f.jobs.resource(&stored).await.expect("must succeed");
    let mut result: serde_json::Value =
        serde_json::from_str(resource.result.expect("a succeeded job has a result").get())
            .expect("must succeed");
    assert_eq!(result["meta"]["request_id"], job.id.as_str());
    result["meta"]["latency_ms"] = 0.into();
    assert_eq!(result, synchronous_answer(&job.id).await);
    assert!(resource.error.is_none());
}

#[tokio::test]
async fn one_idempotency_key_makes_one_job_and_one_message_even_concurrently() {
    let f = Arc::new(fixture(vec![], 150 * 1024));
    let submits = (0..20).map(|_| {
        let f = f.clone();
        tokio::spawn(async move {
            f.jobs
                .submit(
                    SUMMARIZE.as_bytes(),
                    Some(&key("order-42")),
                    &api_key("client-a"),
                )
                .await
                .map(|j| j.id)
        })
    });
    let mut ids = Vec::new();
    for s in submits {
        ids.push(s.await.expect("must succeed").expect("must succeed"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(f.queue.sent(), ids);
    assert_eq!(f.store.jobs().len(), 1);

    // Same key, different body: a 422 that says so.
    let other = SUMMARIZE.replace("\"max_sentences\": 1", "\"max_sentences\": 2");
    let err = f
        .jobs
        .submit(
            other.as_bytes(),
            Some(&key("order-42")),
            &api_key("client-a"),
        )
        .await
        .expect_err("must be rejected");
    assert!(matches!(err, ApiError::IdempotencyKeyReused), "{err:?}");
    assert_eq!(err.status(), 422);
    // Keys are per client; without a key every submit is a new job.
    let b = f
        .jobs
        .submit(
            SUMMARIZE.as_bytes(),
            Some(&key("order-42")),
            &api_key("client-b"),
        )
        .await
        .expect("must succeed");
    assert_ne!(b.id, ids[0]);
    let c = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    assert_ne!(c.id, ids[0]);
    assert_eq!(f.queue.sent().len(), 3);
}

#[tokio::test]
async fn a_failed_send_is_a_503_that_a_retry_with_the_same_key_resumes() {
    let f = fixture(vec![], 150 * 1024);
    f.queue
        .fail_sends
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), Some(&key("k1")), &Caller::default())
        .await
        .expect_err("must be rejected");
    assert_eq!(err.status(), 503);
    let pending = f.store.jobs();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, JobStatus::Queued);
    assert!(!pending[0].enqueued);

    f.queue
        .fail_sends
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), Some(&key("k1")), &Caller::default())
        .await
        .expect("must succeed");
    assert_eq!(job.id, pending[0].id);
    assert!(job.enqueued);
    assert_eq!(f.queue.sent(), vec![job.id.clone()]);

    // Without a key nobody could resume it, so the job is failed rather than left queued.
    f.queue
        .fail_sends
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect_err("must be rejected");
    assert_eq!(err.status(), 503);
    let orphan = f
        .store
        .jobs()
        .into_iter()
        .find(|j| j.id != job.id)
        .expect("must succeed");
    assert_eq!(orphan.status, JobStatus::Failed);
}

#[tokio::test]
async fn a_valid_lease_defers_the_message_and_an_expired_one_is_taken_over() {
    let f = fixture(vec![], 150 * 1024);
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    // A worker started the job and died.
    let now = now_ms();
    f.store
        .start(&job.id, now, now + 60_000)
        .await
        .expect("must succeed");
    let msg = job_message(&job.id);
    assert_eq!(
        f.worker.handle_message(&msg, deadline()).await,
        Disposition::Retry
    );
    assert_eq!(
        f.jobs.get(&job.id).await.expect("must succeed").status,
        JobStatus::Running
    );

    // Its lease runs out: the redelivered message takes the job over, as attempt 3.
    f.store
        .start(&job.id, now + 61_000, now - 1)
        .await
        .expect("must succeed");
    assert_eq!(
        f.worker.handle_message(&msg, deadline()).await,
        Disposition::Done
    );
    let done = f.jobs.get(&job.id).await.expect("must succeed");
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.attempts, 3);
    // The dead attempt can no longer write an outcome.
    let late = super::store::Finish::Failed("{}".into());
    assert!(
        !f.store
            .finish(&job.id, 1, &late, now_ms())
            .await
            .expect("must succeed")
    );
}

#[tokio::test]
async fn transient_failures_retry_and_the_dead_letter_fails_the_job_with_the_reason() {
    let throttled = || ProviderError::Throttled { retry_after_s: 3 };
    let f = fixture(vec![throttled(), throttled(), throttled()], 150 * 1024);
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    let msg = job_message(&job.id);
    for attempt in 1..=3 {
        assert_eq!(
            f.worker.handle_message(&msg, deadline()).await,
            Disposition::Retry
        );
        let j = f.jobs.get(&job.id).await.expect("must succeed");
        assert_eq!((j.status, j.attempts), (JobStatus::Queued, attempt));
    }
    // maxReceiveCount reached: SQS moves the message to the dead-letter queue.
    assert_eq!(
        f.worker
            .handle_message(&dead_letter(&job.id), deadline())
            .await,
        Disposition::Done
    );
    let failed = f.jobs.get(&job.id).await.expect("must succeed");
    assert_eq!(failed.status, JobStatus::Failed);
    let error = f
        .jobs
        .resource(&failed)
        .await
        .expect("must succeed")
        .error
        .expect("must succeed");
    assert_eq!(error.status, 503);
    assert_eq!(error.kind, "urn:intent-api:problem:job-abandoned");
    assert!(
        error.detail.contains("started 3 time(s)"),
        "{}",
        error.detail
    );
    assert!(
        error.detail.contains("Too many requests"),
        "{}",
        error.detail
    );
    assert_eq!(error.instance, format!("/v1/jobs/{}", job.id));
    // A late delivery of the original message changes nothing.
    assert_eq!(
        f.worker.handle_message(&msg, deadline()).await,
        Disposition::Done
    );
    assert_eq!(
        f.jobs.get(&job.id).await.expect("must succeed").status,
        JobStatus::Failed
    );
}

#[tokio::test]
async fn a_permanent_failure_fails_the_job_at_once() {
    let f = fixture(
        vec![ProviderError::Refused("the guardrail blocked it".into())],
        150 * 1024,
    );
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    assert_eq!(
        f.worker
            .handle_message(&job_message(&job.id), deadline())
            .await,
        Disposition::Done
    );
    let failed = f.jobs.get(&job.id).await.expect("must succeed");
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    let error = f
        .jobs
        .resource(&failed)
        .await
        .expect("must succeed")
        .error
        .expect("must succeed");
    assert_eq!(error.status, 502);
    assert_eq!(error.kind, "urn:intent-api:problem:provider-refused");
    // The dead-letter handler leaves finished jobs alone.
    f.worker
        .handle_message(&dead_letter(&job.id), deadline())
        .await;
    let error_after = f.jobs.get(&job.id).await.expect("must succeed").error;
    assert_eq!(error_after, failed.error);
}

#[tokio::test]
async fn large_inputs_and_results_live_in_the_bucket() {
    let f = fixture(vec![], 64);
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    assert!(
        matches!(&job.input, Payload::Stored(k) if k == &format!("jobs/{}/input.json", job.id))
    );
    f.worker
        .handle_message(&job_message(&job.id), deadline())
        .await;
    let done = f.jobs.get(&job.id).await.expect("must succeed");
    let Some(Payload::Stored(key)) = &done.result else {
        panic!("result not offloaded: {:?}", done.result);
    };
    assert_eq!(key, &format!("jobs/{}/result-1.json", job.id));
    assert!(f.payloads.get(key).await.expect("must succeed").is_some());
    let stored = f.jobs.resource(&done).await.expect("must succeed").result;
    let mut result: serde_json::Value =
        serde_json::from_str(stored.expect("must succeed").get()).expect("must succeed");
    result["meta"]["latency_ms"] = 0.into();
    assert_eq!(result, synchronous_answer(&job.id).await);
}

#[tokio::test]
async fn a_bad_message_is_reported_alone_and_never_fails_the_batch() {
    let f = fixture(vec![], 150 * 1024);
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    let mut event = SqsEvent::default();
    event.records = vec![
        message(
            "bad-1",
            "not json",
            "arn:aws:sqs:us-east-1:000000000000:jobs",
        ),
        job_message(&job.id),
        message(
            "bad-2",
            r#"{"job_id":"../../etc"}"#,
            "arn:aws:sqs:us-east-1:000000000000:jobs",
        ),
    ];
    let response = handle_batch(&f.worker, LambdaEvent::new(event, Context::default()))
        .await
        .expect("must succeed");
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["bad-1", "bad-2"]);
    assert_eq!(
        f.jobs.get(&job.id).await.expect("must succeed").status,
        JobStatus::Succeeded
    );
    // From the dead-letter queue, an unreadable message is logged and deleted.
    assert_eq!(
        f.worker
            .handle_message(&message("bad-3", "x", DLQ_ARN), deadline())
            .await,
        Disposition::Done
    );
}

#[tokio::test]
async fn unknown_malformed_and_expired_ids_are_404() {
    let f = fixture(vec![], 150 * 1024);
    for id in ["nope", "key#abc", "00000000-0000-0000-0000-000000000000"] {
        let err = f.jobs.get(id).await.expect_err("must be rejected");
        assert_eq!(err.status(), 404, "{id}");
    }
    let job = f
        .jobs
        .submit(SUMMARIZE.as_bytes(), None, &Caller::default())
        .await
        .expect("must succeed");
    assert!(
        f.store
            .get(&job.id, job.expires_at * 1000 + 1)
            .await
            .expect("must succeed")
            .is_none()
    );
}

#[test]
fn idempotency_keys_are_printable_ascii_up_to_255_characters() {
    assert!(IdempotencyKey::parse(b"\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").is_ok());
    assert!(IdempotencyKey::parse(b"order 42").is_ok());
    for bad in [
        &b""[..],
        b"\"\"",
        "é".as_bytes(),
        &[b'a'; 256][..],
        b"tab\there",
    ] {
        let err = IdempotencyKey::parse(bad).expect_err("must be rejected");
        assert_eq!(err.status(), 400, "{bad:?}");
    }
}
