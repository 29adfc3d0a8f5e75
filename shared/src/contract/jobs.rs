//! `POST /v1/jobs` and `GET /v1/jobs/{job_id}`: any intent as a background job.
//!
//! A job's `input` is exactly the body the intent's synchronous route takes, checked at submit
//! time with the same rules (a 422 then, never a job that fails on bad input later), except for
//! the larger `JOB_*` bounds of [`super::limits`]. A succeeded job's `result` is exactly the
//! envelope the synchronous route would have returned; a failed one's `error` is a problem
//! document.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{FieldError, Semantic};
use crate::problem::Problem;

/// The intents a job can run.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobIntent {
    Summarize,
    Classify,
    Extract,
    Recommend,
    Score,
}

impl JobIntent {
    pub const ALL: [JobIntent; 5] = [
        JobIntent::Summarize,
        JobIntent::Classify,
        JobIntent::Extract,
        JobIntent::Recommend,
        JobIntent::Score,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobIntent::Summarize => "summarize",
            JobIntent::Classify => "classify",
            JobIntent::Extract => "extract",
            JobIntent::Recommend => "recommend",
            JobIntent::Score => "score",
        }
    }

    pub fn parse(name: &str) -> Option<JobIntent> {
        JobIntent::ALL.into_iter().find(|i| i.as_str() == name)
    }

    /// The synchronous route whose body `input` is.
    pub fn route(self) -> &'static str {
        match self {
            JobIntent::Summarize => "/v1/summarize",
            JobIntent::Classify => "/v1/classify",
            JobIntent::Extract => "/v1/extract",
            JobIntent::Recommend => "/v1/recommend",
            JobIntent::Score => "/v1/score",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJobRequest {
    /// Which intent runs the job.
    pub intent: JobIntent,
    /// The body the intent's synchronous route takes (`SummarizeRequest`, `ClassifyRequest`,
    /// `ExtractRequest`, `RecommendRequest` or `ScoreRequest`), with the same rules except the
    /// larger job bounds: text up to 1,000,000 characters (classify: 200,000), up to 5,000
    /// documents (score) or items (recommend), a body of at most 5 MiB.
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

impl Semantic for SubmitJobRequest {
    fn semantic_errors(&self) -> Vec<FieldError> {
        // The input is checked against its intent's contract by the jobs module, which knows
        // the job bounds.
        Vec::new()
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted and waiting for a worker (also between retries of a transient failure).
    Queued,
    /// A worker is running it.
    Running,
    /// Done: `result` holds the intent's response.
    Succeeded,
    /// Given up: `error` says why.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// `succeeded` or `failed`: nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

/// A job as clients see it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobResource {
    /// The job's id; `GET /v1/jobs/{job_id}` reads it.
    pub job_id: String,
    pub intent: JobIntent,
    pub status: JobStatus,
    /// RFC 3339 times.
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Times a worker started the job (a retry after a transient failure or a worker that died
    /// counts again).
    pub attempts: u32,
    /// After this time the job, its result and its idempotency key are gone (404).
    pub expires_at: String,
    /// When `succeeded`: exactly the body the synchronous route returns (the result's fields
    /// plus `meta`; `meta.request_id` is the job id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub result: Option<Box<serde_json::value::RawValue>>,
    /// When `failed`: why, as a problem document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub error: Option<Problem>,
}
