//! Storage ports: the request log (soft writes) and feedback (hard, idempotent writes), with a
//! DynamoDB implementation for production and local runs and an in-memory one for unit tests.
//!
//! # Layout
//! - [`dynamo`]: DynamoDB client construction (once per cold start) and both stores.
//! - [`memory`]: in-memory stores with the same semantics, for unit and handler tests only.
//!
//! The two writes have opposite contracts. A request log write is *soft*: it gets a small time
//! budget and its failure is logged and counted but never changes the user's response. A
//! feedback write is *hard*: it is the user's data, so it is acknowledged only once DynamoDB has
//! it, and it is idempotent (a retry of the same payload succeeds, a different payload for the
//! same response is a conflict), so that client retries can never lose or duplicate feedback.

pub mod dynamo;
pub mod memory;

use async_trait::async_trait;

use crate::caller::Caller;
use crate::contract::feedback::Feedback;
use crate::observability::RequestRecord;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, or unreachable after the SDK's retries: worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a malformed item, missing permissions): a bug or a misconfiguration.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A request log item: the record plus what storage adds.
#[derive(Debug, Clone, PartialEq)]
pub struct LogItem {
    pub record: RequestRecord,
    /// Unix seconds after which DynamoDB TTL deletes the item.
    pub expires_at: i64,
    /// RFC 3339 time the request finished.
    pub created_at: String,
    /// The raw request body, only when `REQUEST_LOG_INCLUDE_INPUT=true` (truncated).
    pub input: Option<String>,
}

#[async_trait]
pub trait RequestLog: Send + Sync {
    async fn append(&self, item: &LogItem) -> Result<(), StoreError>;
    /// Cheap reachability check for `/v1/health`.
    async fn check(&self) -> Result<(), StoreError>;
}

/// Feedback as stored: the public record plus the hash that makes retries idempotent.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeedback {
    pub feedback: Feedback,
    /// sha256 of the canonical JSON of the submitted payload.
    pub payload_sha256: String,
    /// Who submitted it (stored, never returned; not part of the payload hash, so a retry is
    /// recognised whoever sends it).
    pub caller: Caller,
}

/// Result of a conditional feedback write.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    /// Stored now.
    Created,
    /// An identical payload was stored before (a retry): success, nothing written.
    AlreadyStored(StoredFeedback),
    /// A different payload exists for the same request id.
    Conflict(StoredFeedback),
}

#[async_trait]
pub trait FeedbackStore: Send + Sync {
    async fn put_feedback(&self, feedback: &StoredFeedback) -> Result<PutOutcome, StoreError>;
    async fn get_feedback(&self, request_id: &str) -> Result<Option<StoredFeedback>, StoreError>;
    async fn check(&self) -> Result<(), StoreError>;
}
