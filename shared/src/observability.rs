//! Logs: JSON lines on stdout (what CloudWatch ingests), one event per line, every line inside a
//! request carrying the request id and route, and exactly one summary line per request.
//!
//! The summary never contains user text: only sizes, a sha256 of the body (so repeated inputs can
//! be correlated without storing them), statuses and timings.

use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::contract::Usage;

/// Installs the JSON subscriber. The level comes from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`, which
/// Lambda's advanced logging controls set), defaulting to `info`. Safe to call more than once.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .map(|v| v.to_lowercase())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // Lambda adds its own timestamp to each line, but local runs and tests do not.
        .with_ansi(false)
        .try_init();
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
    /// API key id from API Gateway when the caller used one.
    pub client_id: Option<String>,
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
            client_id = self.client_id.as_deref().unwrap_or("-"),
            input_bytes = self.input_bytes,
            input_sha256 = %self.input_sha256,
            error_code = self.error_code.as_deref().unwrap_or("-"),
            "request finished"
        );
    }
}

/// Metrics of one request's model calls, as a CloudWatch embedded-metric-format line: tokens,
/// calls and estimated cost per intent and provider (two low-cardinality dimensions).
pub fn model_usage_metrics(intent: &str, provider: &str, usage: &Usage, cost_usd: Option<f64>) {
    let mut metrics = vec![
        serde_json::json!({"Name": "InputTokens", "Unit": "Count"}),
        serde_json::json!({"Name": "OutputTokens", "Unit": "Count"}),
        serde_json::json!({"Name": "ModelCalls", "Unit": "Count"}),
    ];
    let mut line = serde_json::json!({
        "intent": intent,
        "provider": provider,
        "InputTokens": usage.input_tokens,
        "OutputTokens": usage.output_tokens,
        "ModelCalls": usage.attempts.unwrap_or(0),
    });
    if let Some(cost) = cost_usd {
        metrics.push(serde_json::json!({"Name": "CostUSD", "Unit": "None"}));
        line["CostUSD"] = serde_json::json!(cost);
    }
    line["_aws"] = serde_json::json!({
        "Timestamp": chrono::Utc::now().timestamp_millis(),
        "CloudWatchMetrics": [{
            "Namespace": "IntentApi",
            "Dimensions": [["intent", "provider"]],
            "Metrics": metrics,
        }]
    });
    println!("{line}");
}

/// The embedding cache's part in one request, as an embedded-metric-format line per function:
/// `EmbeddingCacheHits` and `EmbeddingCacheMisses` (their ratio is the hit rate). Nothing is
/// written for a request that used no embedding model.
pub fn embedding_cache_metrics(function: &str, usage: &Usage) {
    if let Some(line) = embedding_cache_metrics_line(function, usage, chrono::Utc::now()) {
        println!("{line}");
    }
}

fn embedding_cache_metrics_line(
    function: &str,
    usage: &Usage,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<serde_json::Value> {
    let (Some(hits), Some(misses)) = (usage.embedding_cache_hits, usage.embedding_cache_misses)
    else {
        return None;
    };
    Some(serde_json::json!({
        "function": function,
        "EmbeddingCacheHits": hits,
        "EmbeddingCacheMisses": misses,
        "_aws": {
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "IntentApi",
                "Dimensions": [["function"]],
                "Metrics": [
                    {"Name": "EmbeddingCacheHits", "Unit": "Count"},
                    {"Name": "EmbeddingCacheMisses", "Unit": "Count"},
                ],
            }],
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_cache_metrics_are_an_emf_line_only_when_a_model_embedded() {
        let now = chrono::Utc::now();
        assert_eq!(
            embedding_cache_metrics_line("score", &Usage::default(), now),
            None
        );
        let usage = Usage {
            embedded_texts: 1,
            embedding_cache_hits: Some(20),
            embedding_cache_misses: Some(1),
            ..Usage::default()
        };
        let line = embedding_cache_metrics_line("score", &usage, now).expect("a line");
        assert_eq!(line["EmbeddingCacheHits"], 20);
        assert_eq!(line["EmbeddingCacheMisses"], 1);
        assert_eq!(line["function"], "score");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], serde_json::json!([["function"]]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert_eq!(names, ["EmbeddingCacheHits", "EmbeddingCacheMisses"]);
    }
}
