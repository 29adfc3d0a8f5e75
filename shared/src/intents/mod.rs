//! The product logic of each intent, independent of which provider answers.
//!
//! Each intent turns a validated request into a provider task, then checks the provider's draft
//! against the contract before building the response: a provider can be wrong, but the API
//! cannot. Violations that cannot be repaired become a 502 with a clear detail; entries that
//! can be safely dropped (an unknown id in a ranked list) are dropped and logged.
//!
//! # Layout
//! - [`summarize`], [`classify`], [`extract`], [`recommend`], [`score`]: one module per intent.

pub mod classify;
pub mod extract;
pub mod feedback;
pub mod recommend;
pub mod score;
pub mod summarize;

use crate::contract::Usage;
use crate::problem::ApiError;
use crate::provider::{Provider, ProviderError};

/// An intent's result plus what `meta` needs to know about how it was produced.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub result: T,
    pub usage: Usage,
    pub provider: &'static str,
    pub model: String,
}

impl<T> Outcome<T> {
    fn new(result: T, usage: Usage, provider: &dyn Provider) -> Self {
        Outcome {
            result,
            usage,
            provider: provider.name(),
            model: provider.model().to_owned(),
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::Throttled { retry_after_s } => ApiError::Throttled { retry_after_s },
            ProviderError::Unavailable(reason) => {
                tracing::warn!(reason = %reason, "provider unavailable");
                ApiError::Unavailable {
                    dependency: "the model provider",
                    retry_after_s: 5,
                }
            }
            ProviderError::Timeout => ApiError::ProviderTimeout,
            ProviderError::BadOutput(detail) => ApiError::ProviderOutput(detail),
            ProviderError::Internal(e) => ApiError::Unexpected(e),
        }
    }
}

/// Scores reach clients in [0, 1] only; NaN becomes 0 rather than poisoning a sort.
pub(crate) fn clamp_score(score: f32) -> f32 {
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

/// Rounds to 4 decimals so that responses are stable across platforms and easy to read.
pub(crate) fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}
