//! Submit and status, as the jobs function serves them (`POST /v1/jobs`, `GET /v1/jobs/{id}`).
//!
//! # Submit, and what a crash at each step leaves behind
//!
//! 1. Validate (422 now, never a job that fails on bad input later).
//! 2. With an `Idempotency-Key`: claim the key for a new job id (conditional put). A key that
//!    names a job with the same fingerprint continues with that job; a different body is a 422.
//! 3. Offload a large input to the bucket, then write the job (conditional put), `queued`, with
//!    a short *send lease* held by this submit.
//! 4. Send the message (the job id), mark the job `enqueued`, answer 202.
//!
//! - Crash after 2: the key names a job that does not exist. The client got no 202; its retry
//!   with the same key finds the key, writes the job under the key's id, and goes on.
//! - Crash after 3, or the send fails: the job is `queued` but not `enqueued`. A failed send
//!   answers 503 and gives the send lease back; a retry with the same key (or any poll of the
//!   job once the lease has run out) sends the message then. Without a key nobody can know the
//!   job's id, so a failed send fails the job at once; after a crash it stays `queued`, never
//!   acknowledged, until the TTL removes it.
//! - Crash after the send, before `enqueued`: a retry may send a second message; the worker's
//!   conditional start makes the duplicate harmless.
//!
//! The send lease makes concurrent retries of one submit send one message: only the holder
//! sends, and others return the job as it is.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::input::{self, ValidInput};
use super::payload::{self, PayloadStore};
use super::queue::JobQueue;
use super::store::{Created, JobStore, KeyClaim, KeyRecord, StoreError};
use super::{Job, Payload, is_job_id, new_job_id, now_ms, rfc3339};
use crate::caller::Caller;
use crate::contract::jobs::{JobResource, JobStatus};
use crate::contract::limits::JOB_IDEMPOTENCY_KEY_MAX_CHARS;
use crate::problem::{ApiError, Problem};

/// How long one submit owns sending its job's message: longer than the queue client's whole
/// budget (4 s), so a slow send is not doubled by a concurrent retry.
const SEND_LEASE: Duration = Duration::from_secs(6);

/// The jobs function's dependencies; built once per cold start.
pub struct Jobs {
    pub store: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    pub payloads: Arc<dyn PayloadStore>,
    pub ttl_days: u32,
    /// Payloads above this many bytes go to the bucket.
    pub inline_max: usize,
    /// The workers answer with a generative provider (`INTENT_PROVIDER` is not `embedded`), so
    /// abstractive summaries can be submitted.
    pub generative: bool,
}

/// A validated `Idempotency-Key` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The header's value: 1–255 printable ASCII characters, optionally as a structured-field
    /// string (in double quotes), as the IETF draft writes it.
    pub fn parse(raw: &[u8]) -> Result<IdempotencyKey, ApiError> {
        let invalid = || ApiError::InvalidHeader {
            name: "Idempotency-Key",
            message: format!(
                "must be 1 to {JOB_IDEMPOTENCY_KEY_MAX_CHARS} printable ASCII characters (a UUID \
                 is a good key)"
            ),
        };
        let text = std::str::from_utf8(raw).map_err(|_| invalid())?.trim();
        let text = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        if text.is_empty()
            || text.len() > JOB_IDEMPOTENCY_KEY_MAX_CHARS
            || !text.bytes().all(|b| (0x20..=0x7e).contains(&b))
        {
            return Err(invalid());
        }
        Ok(IdempotencyKey(text.to_owned()))
    }
}

/// How long a client should wait before polling: about a second per 200 KB of input, 1–30 s.
pub fn retry_after_s(job: &Job) -> u64 {
    let bytes = match &job.input {
        Payload::Inline(text) => text.len(),
        Payload::Stored(_) => 1_000_000,
    };
    (1 + bytes as u64 / 200_000).clamp(1, 30)
}

fn unavailable(what: &'static str, err: StoreError) -> ApiError {
    match err {
        StoreError::Unavailable(reason) => {
            tracing::warn!(reason = %reason, "{what} unavailable");
            ApiError::Unavailable {
                dependency: what,
                retry_after_s: 2,
            }
        }
        StoreError::Unexpected(e) => ApiError::Unexpected(e.context(what)),
    }
}

impl Jobs {
    /// Steps 1–4 of the module docs. `caller` is recorded with the job and scopes idempotency
    /// keys (see [`Caller::idempotency_scope`]).
    pub async fn submit(
        &self,
        body: &[u8],
        key: Option<&IdempotencyKey>,
        caller: &Caller,
    ) -> Result<Job, ApiError> {
        let valid = input::validate(body, self.generative)?;
        let now = now_ms();
        let expires_at = now / 1000 + i64::from(self.ttl_days) * 86_400;
        let mut job_id = new_job_id();
        if let Some(key) = key {
            let key_sha256 = hex::encode(Sha256::digest(format!(
                "{}\n{}",
                caller.idempotency_scope(),
                key.0
            )));
            let record = KeyRecord {
                key_sha256,
                job_id: job_id.clone(),
                request_sha256: valid.request_sha256.clone(),
                expires_at,
            };
            match self
                .store
                .claim_key(&record, now)
                .await
                .map_err(|e| unavailable("the jobs table", e))?
            {
                KeyClaim::Claimed => {}
                KeyClaim::Existing(existing) if existing.request_sha256 == valid.request_sha256 => {
                    job_id = existing.job_id;
                    if let Some(job) = self
                        .store
                        .get(&job_id, now)
                        .await
                        .map_err(|e| unavailable("the jobs table", e))?
                    {
                        return self.ensure_enqueued(job).await;
                    }
                    // The first submit stopped between claiming the key and writing the job.
                }
                KeyClaim::Existing(_) => return Err(ApiError::IdempotencyKeyReused),
            }
        }
        let job = self
            .new_job(job_id, valid, caller.clone(), now, expires_at)
            .await?;
        match self
            .store
            .create(&job)
            .await
            .map_err(|e| unavailable("the jobs table", e))?
        {
            Created::Created => self.send(job, key.is_some()).await,
            // A concurrent retry of the same keyed submit wrote it first: it sends.
            Created::Exists(existing) => self.ensure_enqueued(*existing).await,
        }
    }

    async fn new_job(
        &self,
        id: String,
        valid: ValidInput,
        caller: Caller,
        now: i64,
        expires_at: i64,
    ) -> Result<Job, ApiError> {
        let input = payload::offload(
            self.payloads.as_ref(),
            self.inline_max,
            payload::input_key(&id),
            valid.input,
        )
        .await
        .map_err(|e| unavailable("the jobs bucket", e))?;
        Ok(Job {
            id,
            intent: valid.intent,
            status: JobStatus::Queued,
            created_at_ms: now,
            updated_at_ms: now,
            started_at_ms: None,
            finished_at_ms: None,
            attempts: 0,
            lease_until_ms: 0,
            send_lease_until_ms: now + SEND_LEASE.as_millis() as i64,
            enqueued: false,
            expires_at,
            input,
            request_sha256: valid.request_sha256,
            result: None,
            error: None,
            last_error: None,
            caller,
        })
    }

    /// Sends the message of a job whose send lease we hold.
    async fn send(&self, mut job: Job, resumable: bool) -> Result<Job, ApiError> {
        match self.queue.send(&job.id).await {
            Ok(()) => {
                job.enqueued = true;
                // If this write is lost, a later retry or poll may send a duplicate message,
                // which the worker ignores.
                if let Err(e) = self.store.mark_enqueued(&job.id).await {
                    tracing::warn!(job_id = %job.id, error = %e, "could not mark the job enqueued");
                }
                Ok(job)
            }
            Err(err) => {
                let outcome = if resumable {
                    self.store.release_send(&job.id).await
                } else {
                    // Nobody can resume a job whose id was never returned.
                    let problem = not_queued_problem(&job.id);
                    self.store
                        .fail_unfinished(&job.id, &problem, now_ms())
                        .await
                        .map(|_| ())
                };
                if let Err(e) = outcome {
                    tracing::warn!(job_id = %job.id, error = %e, "could not clean up after a failed send");
                }
                Err(unavailable("the job queue", err))
            }
        }
    }

    /// Sends the job's message if it is `queued`, not `enqueued`, and nobody else holds the send
    /// lease; otherwise returns the job as it is.
    async fn ensure_enqueued(&self, job: Job) -> Result<Job, ApiError> {
        let now = now_ms();
        if job.status != JobStatus::Queued || job.enqueued || job.send_lease_until_ms >= now {
            return Ok(job);
        }
        let until = now + SEND_LEASE.as_millis() as i64;
        if self
            .store
            .claim_send(&job.id, now, until)
            .await
            .map_err(|e| unavailable("the jobs table", e))?
        {
            tracing::info!(job_id = %job.id, "sending the message of a job that was not queued");
            self.send(job, true).await
        } else {
            Ok(job)
        }
    }

    /// The job, or 404 when unknown or expired. A poll also repairs a job whose message was
    /// never sent (see the module docs); if that send fails, the poll still answers.
    pub async fn get(&self, id: &str) -> Result<Job, ApiError> {
        let not_found = || ApiError::JobNotFound(id.to_owned());
        if !is_job_id(id) {
            return Err(not_found());
        }
        let job = self
            .store
            .get(id, now_ms())
            .await
            .map_err(|e| unavailable("the jobs table", e))?
            .ok_or_else(not_found)?;
        match self.ensure_enqueued(job.clone()).await {
            Ok(job) => Ok(job),
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "could not repair an unsent job");
                Ok(job)
            }
        }
    }

    /// What clients see of a job, with its result read from the bucket if it was offloaded.
    pub async fn resource(&self, job: &Job) -> Result<JobResource, ApiError> {
        let result = match &job.result {
            Some(p) if job.status == JobStatus::Succeeded => {
                let text = payload::load(self.payloads.as_ref(), p)
                    .await
                    .map_err(|e| unavailable("the jobs bucket", e))?;
                // Served as stored: the exact bytes (and field order) of the envelope.
                Some(serde_json::value::RawValue::from_string(text).map_err(|e| {
                    ApiError::Unexpected(anyhow::Error::new(e).context("a stored result"))
                })?)
            }
            _ => None,
        };
        let error = match &job.error {
            Some(text) if job.status == JobStatus::Failed => {
                Some(serde_json::from_str::<Problem>(text).map_err(|e| {
                    ApiError::Unexpected(anyhow::Error::new(e).context("a stored job error"))
                })?)
            }
            _ => None,
        };
        Ok(JobResource {
            job_id: job.id.clone(),
            intent: job.intent,
            status: job.status,
            created_at: rfc3339(job.created_at_ms),
            updated_at: rfc3339(job.updated_at_ms),
            started_at: job.started_at_ms.map(rfc3339),
            finished_at: job.finished_at_ms.map(rfc3339),
            attempts: job.attempts,
            expires_at: rfc3339(job.expires_at * 1000),
            result,
            error,
        })
    }
}

/// The error of a job whose message could not be sent at submit time.
fn not_queued_problem(job_id: &str) -> String {
    job_problem(
        job_id,
        ApiError::JobAbandoned(
            "The job queue was unavailable when the job was submitted, so the job never ran. \
             Submit it again (with an Idempotency-Key, a retry resumes the same job)."
                .to_owned(),
        ),
    )
}

/// A job's error: the problem document of `err`, for the job's own URL, with the job id as the
/// request id.
pub fn job_problem(job_id: &str, err: ApiError) -> String {
    let problem = err.to_problem(&format!("/v1/jobs/{job_id}"), job_id);
    serde_json::to_string(&problem).unwrap_or_else(|_| {
        format!(r#"{{"type":"urn:intent-api:problem:internal","title":"Internal server error","status":500,"detail":"","instance":"/v1/jobs/{job_id}","request_id":"{job_id}"}}"#)
    })
}
