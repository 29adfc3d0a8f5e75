//! `POST /v1/feedback` and `GET /v1/feedback/{request_id}`: a user's verdict on an earlier
//! response, stored durably and idempotently (one feedback per response).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::common::{FieldError, Semantic, not_blank, valid_id};

/// Largest `corrected_output`, in bytes of JSON.
pub const MAX_CORRECTED_OUTPUT_BYTES: usize = 16 * 1024;
/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: u64 = 2_000;

/// How the user rated the response.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Positive,
    Negative,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// `meta.request_id` of the response the feedback is about.
    #[validate(custom(function = "valid_id"))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
    )]
    pub request_id: String,
    pub rating: Rating,
    /// Optional free text, 1–2,000 characters.
    #[serde(default)]
    #[validate(length(min = 1, max = MAX_COMMENT_CHARS), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub comment: Option<String>,
    /// Optional corrected result (any JSON, at most 16 KiB), e.g. the label that was right.
    #[serde(default)]
    #[validate(custom(function = "corrected_output_size"))]
    #[schema(schema_with = crate::openapi::schemas::corrected_output)]
    pub corrected_output: Option<serde_json::Value>,
}

fn corrected_output_size(value: &serde_json::Value) -> Result<(), ValidationError> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_CORRECTED_OUTPUT_BYTES {
        let mut e = ValidationError::new("length");
        e.message =
            Some(format!("must be at most {MAX_CORRECTED_OUTPUT_BYTES} bytes of JSON").into());
        return Err(e);
    }
    Ok(())
}

impl Semantic for FeedbackRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// Stored feedback, as returned by both routes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub request_id: String,
    pub rating: Rating,
    #[schema(required = true)]
    pub comment: Option<String>,
    #[schema(schema_with = crate::openapi::schemas::stored_corrected_output, required = true)]
    pub corrected_output: Option<serde_json::Value>,
    /// When the feedback was first stored (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackResponse {
    pub feedback: Feedback,
    /// False when this call was a retry of an identical, already stored submission.
    pub created: bool,
}

/// `GET /v1/feedback/{request_id}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFeedbackResponse {
    pub feedback: Feedback,
}
