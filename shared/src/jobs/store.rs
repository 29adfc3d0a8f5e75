//! The jobs table port: every write a job goes through, each one conditional, so that
//! concurrent submits, duplicate messages and takeovers cannot corrupt a job.
//!
//! Implementations: [`super::dynamo::DynamoJobStore`] and [`super::memory::MemoryJobStore`]
//! (tests). Both hold the same rules; the conditions are spelt next to each method.

use async_trait::async_trait;

use super::{Job, Payload};
pub use crate::store::StoreError;

/// The idempotency record of one `Idempotency-Key`: which job it created, and for which body.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// sha256 of the client id and the key (the key itself is the caller's, not ours to keep).
    pub key_sha256: String,
    pub job_id: String,
    pub request_sha256: String,
    /// Expires with the job (unix seconds).
    pub expires_at: i64,
}

/// Outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyClaim {
    /// The key was free: it now names the new job.
    Claimed,
    /// The key was used before (and has not expired): its record.
    Existing(KeyRecord),
}

/// Outcome of writing a new job.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Created,
    /// A job with this id exists (a concurrent retry of the same idempotent submit wrote it).
    Exists(Box<Job>),
}

/// Outcome of a worker's attempt to start a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The job is ours until the lease ends; `attempts` is this attempt's number.
    Started(Job),
    /// Succeeded or failed already: a duplicate message.
    Finished(Job),
    /// Another attempt holds a valid lease: try again later.
    Leased { until_ms: i64 },
    /// No such job (expired, or never written).
    Missing,
}

/// How an attempt ends the job.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Succeeded(Payload),
    /// The problem document, as JSON text.
    Failed(String),
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims `record.key_sha256` for `record.job_id`, unless an unexpired record holds it.
    async fn claim_key(&self, record: &KeyRecord, now_ms: i64) -> Result<KeyClaim, StoreError>;

    /// Writes a new job, unless one with its id exists.
    async fn create(&self, job: &Job) -> Result<Created, StoreError>;

    /// The job, strongly consistent; `None` when missing or expired.
    async fn get(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError>;

    /// Takes the right to send the job's message: only while `queued`, not `enqueued`, and no
    /// other sender's lease is valid. `true` when taken.
    async fn claim_send(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError>;

    /// Records that the queue accepted the job's message.
    async fn mark_enqueued(&self, id: &str) -> Result<(), StoreError>;

    /// Gives the send lease back after a failed send, so an immediate retry can send.
    async fn release_send(&self, id: &str) -> Result<(), StoreError>;

    /// Starts an attempt: `queued` → `running`, or takes over a `running` job whose lease has
    /// expired; `attempts` + 1 either way.
    async fn start(&self, id: &str, now_ms: i64, lease_until_ms: i64) -> Result<Start, StoreError>;

    /// Ends attempt `attempt`: only while the job is `running` under that attempt. `false` when
    /// another attempt owns the job now (its outcome, not ours, is the job's).
    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Finish,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Puts attempt `attempt`'s job back to `queued` after a transient failure (same condition as
    /// [`JobStore::finish`]), so that the redelivered message can start it at once.
    async fn release(
        &self,
        id: &str,
        attempt: u32,
        last_error: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Fails a job that is still `queued` or `running` (its message went to the dead-letter
    /// queue). `false` when it had finished.
    async fn fail_unfinished(
        &self,
        id: &str,
        problem: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Cheap reachability check for `/v1/health`.
    async fn check(&self) -> Result<(), StoreError>;
}
