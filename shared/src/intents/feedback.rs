//! Feedback: store a user's verdict on an earlier response exactly once, and read it back.
//!
//! The payload hash makes a submission idempotent: the same payload for the same request id is
//! acknowledged again without a second write (so a client may retry until it gets an answer),
//! and a different payload is a conflict rather than a silent overwrite.

use sha2::{Digest, Sha256};

use crate::caller::Caller;
use crate::contract::feedback::{Feedback, FeedbackRequest, FeedbackResponse, GetFeedbackResponse};
use crate::contract::valid_id;
use crate::problem::ApiError;
use crate::store::{FeedbackStore, PutOutcome, StoreError, StoredFeedback};

/// Seconds a client should wait before retrying when storage is unavailable.
const RETRY_AFTER_S: u64 = 2;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(reason) => {
                tracing::warn!(reason = %reason, "feedback storage unavailable");
                ApiError::Unavailable {
                    dependency: "feedback storage",
                    retry_after_s: RETRY_AFTER_S,
                }
            }
            StoreError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// Stores `request`; returns the stored feedback and whether this call created it.
pub async fn submit(
    store: &dyn FeedbackStore,
    request: FeedbackRequest,
    caller: &Caller,
) -> Result<FeedbackResponse, ApiError> {
    // Struct fields serialise in declaration order and serde_json's maps are sorted, so this is
    // a canonical form of the payload.
    let canonical = serde_json::to_vec(&request)
        .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("hashing feedback")))?;
    let stored = StoredFeedback {
        payload_sha256: hex::encode(Sha256::digest(&canonical)),
        caller: caller.clone(),
        feedback: Feedback {
            request_id: request.request_id,
            rating: request.rating,
            comment: request.comment,
            corrected_output: request.corrected_output,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
    };
    match store.put_feedback(&stored).await? {
        PutOutcome::Created => Ok(FeedbackResponse {
            feedback: stored.feedback,
            created: true,
        }),
        PutOutcome::AlreadyStored(existing) => Ok(FeedbackResponse {
            feedback: existing.feedback,
            created: false,
        }),
        PutOutcome::Conflict(existing) => Err(ApiError::Conflict(format!(
            "feedback for request '{}' was already submitted on {} with different content; \
             submitted feedback cannot be changed",
            existing.feedback.request_id, existing.feedback.created_at
        ))),
    }
}

pub async fn get(
    store: &dyn FeedbackStore,
    request_id: &str,
) -> Result<GetFeedbackResponse, ApiError> {
    let not_found = || ApiError::NotFound {
        method: "GET".into(),
        path: format!("/v1/feedback/{request_id}"),
    };
    if valid_id(request_id).is_err() {
        return Err(not_found());
    }
    match store.get_feedback(request_id).await? {
        Some(found) => Ok(GetFeedbackResponse {
            feedback: found.feedback,
        }),
        None => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::feedback::Rating;
    use crate::store::memory::MemoryFeedbackStore;

    fn request(comment: &str) -> FeedbackRequest {
        FeedbackRequest {
            request_id: "req-1".into(),
            rating: Rating::Negative,
            comment: Some(comment.into()),
            corrected_output: Some(serde_json::json!({"label": "billing"})),
        }
    }

    #[tokio::test]
    async fn a_retry_with_the_same_payload_is_acknowledged_without_a_second_write() {
        let store = MemoryFeedbackStore::default();
        let first = submit(&store, request("wrong label"), &Caller::default())
            .await
            .expect("stored");
        let again = submit(&store, request("wrong label"), &Caller::default())
            .await
            .expect("idempotent");
        assert!(first.created);
        assert!(!again.created);
        assert_eq!(first.feedback, again.feedback);
    }

    #[tokio::test]
    async fn a_different_payload_for_the_same_request_is_a_conflict() {
        let store = MemoryFeedbackStore::default();
        submit(&store, request("wrong label"), &Caller::default())
            .await
            .expect("stored");
        let err = submit(&store, request("changed my mind"), &Caller::default())
            .await
            .expect_err("conflict");
        assert_eq!(err.status(), 409);
    }

    #[tokio::test]
    async fn unknown_and_malformed_ids_are_not_found() {
        let store = MemoryFeedbackStore::default();
        assert_eq!(
            get(&store, "nope").await.expect_err("missing").status(),
            404
        );
        assert_eq!(
            get(&store, "../etc").await.expect_err("bad id").status(),
            404
        );
    }
}
