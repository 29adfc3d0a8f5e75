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

use crate::contract::{FieldError, Usage};
use crate::problem::ApiError;
use crate::provider::{Draft, Provider, ProviderError};

/// An intent's result plus what `meta` and the request log need to know about how it was
/// produced.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub result: T,
    pub usage: Usage,
    pub provider: &'static str,
    pub model: String,
    /// Estimated model charges; `Some(0.0)` for engines without per-token charges.
    pub cost_usd: Option<f64>,
    pub stop_reason: Option<String>,
    pub fallback_reason: Option<&'static str>,
}

impl<T> Outcome<T> {
    /// The outcome of a draft: its provenance when it has one, else the provider's own name and
    /// model at no per-token cost.
    pub(crate) fn from_draft<D>(result: T, draft: &Draft<D>, provider: &dyn Provider) -> Self {
        match &draft.provenance {
            Some(p) => Outcome {
                result,
                usage: draft.usage,
                provider: p.provider,
                model: p.model.clone(),
                cost_usd: p.cost_usd,
                stop_reason: p.stop_reason.clone(),
                fallback_reason: p.fallback_reason,
            },
            None => Outcome::without_model_call(result, draft.usage, provider),
        }
    }

    /// An outcome produced without asking the provider (nothing to choose from).
    pub(crate) fn without_model_call(result: T, usage: Usage, provider: &dyn Provider) -> Self {
        Outcome {
            result,
            usage,
            provider: provider.name(),
            model: provider.model().to_owned(),
            cost_usd: Some(0.0),
            stop_reason: None,
            fallback_reason: None,
        }
    }

    /// The outcome of a route that uses no model at all.
    pub fn plain(result: T) -> Self {
        Outcome {
            result,
            usage: Usage::default(),
            provider: "none",
            model: "none".to_owned(),
            cost_usd: Some(0.0),
            stop_reason: None,
            fallback_reason: None,
        }
    }
}

/// The dependency named by a 503 when the model provider is unavailable.
pub const MODEL_PROVIDER: &str = "the model provider";

/// How long a client should wait after a throttled or unavailable provider when the upstream
/// gave no hint of its own.
const DEFAULT_RETRY_AFTER_S: u64 = 5;

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::Throttled { retry_after_s } => ApiError::Throttled { retry_after_s },
            ProviderError::Unavailable {
                reason,
                retry_after_s,
            } => {
                tracing::warn!(reason = %reason, "provider unavailable");
                ApiError::Unavailable {
                    dependency: MODEL_PROVIDER,
                    retry_after_s,
                }
            }
            ProviderError::Timeout => ApiError::ProviderTimeout,
            ProviderError::BadOutput(detail) => ApiError::ProviderOutput(detail),
            ProviderError::Truncated(detail) => ApiError::ProviderTruncated(detail),
            ProviderError::Refused(detail) => ApiError::ProviderRefused(detail),
            ProviderError::Unsupported { pointer, message } => {
                ApiError::Validation(vec![FieldError::new(pointer, "unsupported", message)])
            }
            ProviderError::InputTooLarge { estimated, limit } => {
                ApiError::InputTooLarge { estimated, limit }
            }
            // The cause (access denied, unknown model) is for the operator's log, not the client.
            ProviderError::Misconfigured(cause) => ApiError::Unexpected(anyhow::Error::new(
                crate::provider::ProviderMisconfigured(cause),
            )),
            ProviderError::Internal(e) => ApiError::Unexpected(e),
        }
    }
}

/// The retry hint for a transient provider failure: the upstream's own, else a default, capped
/// so a client is never told to wait minutes.
pub(crate) fn retry_after_s(hint: Option<std::time::Duration>) -> u64 {
    hint.map(|d| d.as_secs_f64().ceil() as u64)
        .unwrap_or(DEFAULT_RETRY_AFTER_S)
        .clamp(1, 60)
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
