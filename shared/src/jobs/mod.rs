//! Background jobs: the asynchronous request-reply pattern on SQS.
//!
//! `POST /v1/jobs` validates the input with the intent's own contract (job bounds), writes the
//! job to the jobs table, sends a message that carries only the job id, and answers 202. A worker
//! Lambda consumes the queue, runs the intent through the same code as the synchronous route and
//! stores exactly the envelope that route returns. `GET /v1/jobs/{job_id}` reads the table.
//!
//! The table is the source of truth; every status change is a conditional write, so SQS's
//! at-least-once delivery is safe: a duplicate message never runs a finished job again, and a
//! job's result is written once, by the attempt that holds the job's lease. A worker that died
//! mid-job loses its lease when it expires, and the redelivered message takes the job over.
//!
//! # Layout
//! - this file: the stored job ([`Job`], [`Payload`]) and the time helpers.
//! - [`store`]: the jobs table port and the outcomes of its conditional writes.
//! - [`memory`]: in-memory table, queue and bucket for tests.
//! - [`dynamo`]: the DynamoDB implementation of the port.
//! - [`queue`]: the queue port and its SQS implementation.
//! - [`payload`]: payloads above DynamoDB's item limit, offloaded to S3.
//! - [`input`]: submit-time validation with the job bounds, and running a stored input through
//!   the intent.
//! - [`service`]: submit and status, as the jobs function serves them.
//! - [`http`]: the jobs routes at the HTTP boundary (202, `Location`, `Retry-After`).
//! - [`worker`]: the worker's per-message logic, the batch handler and the dead-letter handler.
//! - [`config`]: the jobs settings read from the environment.

pub mod config;
pub mod dynamo;
pub mod http;
pub mod input;
pub mod memory;
pub mod payload;
pub mod queue;
pub mod service;
pub mod store;
#[cfg(test)]
mod tests;
pub mod worker;

use crate::caller::Caller;
use crate::contract::jobs::{JobIntent, JobStatus};

/// A job as stored in the jobs table.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub intent: JobIntent,
    pub status: JobStatus,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// Times a worker started the job; also the fencing token of the current attempt: only the
    /// attempt whose number is stored may finish the job.
    pub attempts: u32,
    /// While `running`: until when the current attempt owns the job (unix ms).
    pub lease_until_ms: i64,
    /// While `queued` and not yet `enqueued`: until when one submit (or repair) owns sending the
    /// job's message (unix ms), so that concurrent retries of one submit send it once.
    pub send_lease_until_ms: i64,
    /// The job's message was accepted by the queue.
    pub enqueued: bool,
    /// Unix seconds: DynamoDB TTL deletes the item after this; reads treat it as gone.
    pub expires_at: i64,
    /// The validated input (canonical JSON of the synchronous route's body).
    pub input: Payload,
    /// sha256 of the submit body's canonical JSON (the idempotency fingerprint).
    pub request_sha256: String,
    /// When `succeeded`: the envelope as JSON text.
    pub result: Option<Payload>,
    /// When `failed`: the problem document as JSON text.
    pub error: Option<String>,
    /// The public detail of the last transient failure, for the dead-letter message.
    pub last_error: Option<String>,
    /// Who submitted the job.
    pub caller: Caller,
}

/// A JSON payload, inline in the item or, when too large for a DynamoDB item, in the bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Inline(String),
    /// Object key in the jobs bucket.
    Stored(String),
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix milliseconds as RFC 3339 with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Job ids are what [`new_job_id`] makes: 32 lowercase hex digits in the 8-4-4-4-12 layout.
/// Anything else is not a job (and never reaches the table).
pub fn is_job_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_digit() || ('a'..='f').contains(&c)
            }
        })
}

/// A fresh job id. The id is the only thing that reads a job's result, so it must not be
/// guessable from another one: it is a sha256 of the time, a counter and a per-process secret
/// (std's `RandomState` keys, which the OS randomness seeds).
pub fn new_job_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use sha2::{Digest, Sha256};

    static SECRET: LazyLock<(u64, u64)> = LazyLock::new(|| {
        let a = std::collections::hash_map::RandomState::new();
        let b = std::collections::hash_map::RandomState::new();
        let (mut ha, mut hb) = (a.build_hasher(), b.build_hasher());
        ha.write_u64(0x6a6f6273);
        hb.write_u64(0x69647321);
        (ha.finish(), hb.finish())
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (k0, k1) = *SECRET;
    let digest = Sha256::digest(format!("{k0}:{k1}:{nanos}:{n}:{}", std::process::id()));
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn new_ids_are_job_ids_and_distinct() {
        let a = new_job_id();
        let b = new_job_id();
        assert!(is_job_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_job_id("idem#abc"));
        assert!(!is_job_id(&a.to_uppercase()));
        assert!(!is_job_id(&format!("{a}0")));
    }
}
