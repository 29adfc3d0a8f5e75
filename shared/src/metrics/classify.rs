//! Which failures are the model provider's, for `ProviderErrors` and `ProviderThrottles`.
//!
//! Read from the error a request ended with (the provider's errors have reached the HTTP
//! boundary as [`ApiError`]s by then), or from the fallback reason when the embedded engine
//! answered for a failing provider: the caller got an answer, but the provider still failed.

use crate::problem::ApiError;
use crate::provider::ProviderMisconfigured;

/// How the model provider failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFailure {
    /// The upstream throttled the call. Counted in `ProviderThrottles` and `ProviderErrors`.
    Throttled,
    /// Any other provider failure: unavailable, too slow, an unusable, truncated or refused
    /// answer, or a provider the deployment cannot use (access denied, unknown model).
    Failed,
}

impl ProviderFailure {
    /// The provider's part in the error a request ended with, if any.
    pub fn of_error(err: &ApiError) -> Option<ProviderFailure> {
        match err {
            ApiError::Throttled { .. } => Some(ProviderFailure::Throttled),
            ApiError::Unavailable { dependency, .. }
                if *dependency == crate::intents::MODEL_PROVIDER =>
            {
                Some(ProviderFailure::Failed)
            }
            ApiError::ProviderTimeout
            | ApiError::ProviderOutput(_)
            | ApiError::ProviderTruncated(_)
            | ApiError::ProviderRefused(_) => Some(ProviderFailure::Failed),
            ApiError::Unexpected(cause)
                if cause.downcast_ref::<ProviderMisconfigured>().is_some() =>
            {
                Some(ProviderFailure::Failed)
            }
            _ => None,
        }
    }

    /// The failure behind a fallback answer (`meta.fallback_reason`).
    pub fn of_fallback(reason: &str) -> ProviderFailure {
        if reason == "throttled" {
            ProviderFailure::Throttled
        } else {
            ProviderFailure::Failed
        }
    }

    /// The failure behind a request's error or, when it succeeded, behind its fallback answer.
    pub fn of_outcome(
        err: Option<&ApiError>,
        fallback_reason: Option<&str>,
    ) -> Option<ProviderFailure> {
        match err {
            Some(err) => ProviderFailure::of_error(err),
            None => fallback_reason.map(ProviderFailure::of_fallback),
        }
    }
}
