//! Logs: JSON lines on stdout (what CloudWatch ingests), one event per line, every line inside a
//! request carrying the request id and route, and exactly one summary line per request.
//!
//! The summary never contains user text: only sizes, a sha256 of the body (so repeated inputs can
//! be correlated without storing them), statuses and timings. Metrics are [`crate::metrics`]'s.

use serde::Serialize;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::ConfigError;
use crate::tracing_export::{self, TracingConfig};

use crate::caller::Caller;
use crate::contract::Usage;

/// Installs the JSON subscriber, and the X-Ray trace exporter when tracing is on (see
/// [`crate::tracing_export`]). The level comes from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`, which
/// Lambda's advanced logging controls set), defaulting to `info`. Safe to call more than once.
pub fn init() {
    init_with_traces(TracingConfig::from_env());
}

/// [`init`] with the trace configuration given rather than read from the environment. A bad
/// configuration is logged and leaves traces off: tracing never stops a function.
pub fn init_with_traces(traces: Result<Option<TracingConfig>, ConfigError>) {
    let filter = crate::log_filter::from_env();
    // Spans that exist only for traces stay out of the logs, so a line logged inside one still
    // names the request span (its request id and route) as its current span.
    let filter = filter.and(filter_fn(|meta| {
        meta.target() != tracing_export::SPAN_TARGET
    }));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // Lambda adds its own timestamp to each line, but local runs and tests do not.
        .with_ansi(false)
        .with_filter(filter);
    let mut setup_error = None;
    let traces = match traces {
        Ok(Some(config)) if !tracing_export::enabled() => match tracing_export::layer(&config) {
            Ok(layer) => Some(layer),
            Err(err) => {
                setup_error = Some(err);
                None
            }
        },
        Ok(_) => None,
        Err(err) => {
            setup_error = Some(err.into());
            None
        }
    };
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
    if let Some(err) = setup_error {
        tracing::error!(error = %err, "traces are off");
    }
}

/// Everything known about a finished request: the summary log line and the request log item.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRecord {
    pub request_id: String,
    /// Route template (`/v1/score`), or the raw path when no route matched.
    pub route: String,
    pub method: String,
    pub status: u16,
    pub latency_ms: u64,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
    /// Estimated model charges in USD (`None` when the model has no price).
    pub cost_usd: Option<f64>,
    /// Why a generative model stopped (`complete`, `max_tokens`, `refused`, ...).
    pub stop_reason: Option<String>,
    /// Why the embedded engine answered for the configured generative provider.
    pub fallback_reason: Option<String>,
    /// Who called: API key id and, with a JWT authorizer, the token's subject and client id.
    pub caller: Caller,
    pub input_bytes: u64,
    /// Hex sha256 of the request body (empty body: the hash of nothing).
    pub input_sha256: String,
    /// Problem code (`validation`, `internal`, ...) when the request failed.
    pub error_code: Option<String>,
}

impl RequestRecord {
    /// Emits the one summary line of the request.
    pub fn log(&self) {
        let usage = &self.usage;
        tracing::info!(
            event = "request",
            method = %self.method,
            status = self.status,
            latency_ms = self.latency_ms,
            provider = self.provider.as_deref().unwrap_or("-"),
            model = self.model.as_deref().unwrap_or("-"),
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            embedded_texts = usage.embedded_texts,
            embedding_cache_hits = usage.embedding_cache_hits.unwrap_or(0),
            embedding_cache_misses = usage.embedding_cache_misses.unwrap_or(0),
            attempts = usage.attempts.unwrap_or(0),
            cost_usd = self.cost_usd.unwrap_or(0.0),
            stop_reason = self.stop_reason.as_deref().unwrap_or("-"),
            fallback_reason = self.fallback_reason.as_deref().unwrap_or("-"),
            caller_api_key_id = self.caller.api_key_id.as_deref().unwrap_or("-"),
            caller_sub = self.caller.sub.as_deref().unwrap_or("-"),
            caller_client_id = self.caller.client_id.as_deref().unwrap_or("-"),
            input_bytes = self.input_bytes,
            input_sha256 = %self.input_sha256,
            error_code = self.error_code.as_deref().unwrap_or("-"),
            "request finished"
        );
    }
}
