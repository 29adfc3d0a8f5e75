//! The payloads of the summary stream's events, in the order they come: one `start`, any number
//! of `delta`, then exactly one `done` or one `error`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contract::Usage;
use crate::contract::summarize::SummaryStyle;
use crate::problem::ApiError;

/// `event: start`: the stream is accepted; who will write it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamStart {
    /// Same id as the `x-request-id` header and the request log item.
    pub request_id: String,
    pub provider: String,
    pub model: String,
}

/// `event: delta`: the next piece of the summary, in order (a few tokens from a generative
/// model, a whole sentence from an extractive summary).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamDelta {
    pub text: String,
}

/// `event: done`: the whole summary, checked like the buffered route's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamDone {
    /// The complete summary (the deltas joined).
    pub summary: String,
    pub style: SummaryStyle,
    pub usage: Usage,
    /// Estimated model charges in USD (see `meta.cost_usd`).
    pub cost_usd: Option<f64>,
    /// Why the model stopped (`complete` for a summary that ended normally).
    pub stop_reason: String,
    /// Time from the request to this event, in milliseconds.
    pub latency_ms: u64,
}

/// `event: error`: the stream failed after it started; a problem object (RFC 9457 fields) plus
/// whether retrying the same request may succeed. No `done` follows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamError {
    /// Problem type URI, as in problem+json bodies.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status this failure would have had before the stream started.
    pub status: u16,
    pub detail: String,
    pub request_id: String,
    pub retryable: bool,
}

impl StreamError {
    pub fn from_api_error(err: &ApiError, instance: &str, request_id: &str) -> StreamError {
        let problem = err.to_problem(instance, request_id);
        StreamError {
            kind: problem.kind,
            title: problem.title,
            status: problem.status,
            detail: problem.detail,
            request_id: problem.request_id,
            retryable: matches!(
                err,
                ApiError::Throttled { .. }
                    | ApiError::Unavailable { .. }
                    | ApiError::ProviderTimeout
            ),
        }
    }
}
