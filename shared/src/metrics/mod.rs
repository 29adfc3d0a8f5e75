//! Metrics: CloudWatch embedded metric format (EMF) lines on stdout, which CloudWatch Logs turns
//! into metrics without an API call on the request path.
//!
//! One namespace ([`NAMESPACE`]) and one line per request, for every request (failures,
//! streamed summaries and background jobs included), with every metric of the request in it:
//! `Requests`, `Errors4xx`, `Errors5xx`, `ProviderErrors`, `ProviderThrottles`, `Latency`,
//! `InputTokens`, `OutputTokens`, `CostUSD`, `EmbeddedTexts`, and `EmbeddingCacheHits` /
//! `EmbeddingCacheMisses` when the engine reports them. Counters are 0 or 1 per request, so
//! `Sum` counts and `Average` is a rate. Request-log write failures happen after the request's
//! line is out (the write runs after the response), so `RequestLogWriteFailures` is a line of its
//! own.
//!
//! Dimensions stay few and closed, because every distinct combination is a billed metric:
//! `[function]` on every line, plus `[intent]` and `[intent, provider]` on the lines of
//! functions that run an intent (intent: summarize, classify, extract, recommend, score;
//! provider: embedded, bedrock, openai). There is no status dimension: `Errors4xx` and
//! `Errors5xx` already split requests by status class at no extra cardinality.
//!
//! # Layout
//! - this file: the per-request line ([`RequestMetrics`]) and the request-log failure line.
//! - [`classify`]: which failures are the model provider's ([`ProviderFailure`]).

pub mod classify;
#[cfg(test)]
mod tests;

pub use classify::ProviderFailure;

use serde_json::{Map, Value, json};

use crate::contract::Usage;
use crate::routes::Function;

/// The CloudWatch namespace of every metric of the API.
pub const NAMESPACE: &str = "IntentApi";

/// What one request's metric line says.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics<'a> {
    pub function: Function,
    /// The intent the function runs (`None` for health, feedback, docs, jobs).
    pub intent: Option<&'static str>,
    /// Who answered (or would have): `embedded`, `bedrock` or `openai`.
    pub provider: Option<&'a str>,
    /// The outcome's status: the HTTP status, or the `error` event's status for a stream that
    /// failed after it started, or a job's outcome.
    pub status: u16,
    pub latency_ms: u64,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub provider_failure: Option<ProviderFailure>,
    /// Not a dimension: a plain member, so a metric spike leads to the requests behind it.
    pub request_id: &'a str,
}

/// The intent a function runs, for the `intent` dimension.
pub fn intent_of(function: Function) -> Option<&'static str> {
    match function {
        Function::Summarize | Function::SummarizeStream => Some("summarize"),
        Function::Classify => Some("classify"),
        Function::Extract => Some("extract"),
        Function::Recommend => Some("recommend"),
        Function::Score => Some("score"),
        Function::Health
        | Function::Feedback
        | Function::Docs
        | Function::Jobs
        | Function::JobWorker
        | Function::Authorizer => None,
    }
}

impl RequestMetrics<'_> {
    /// The EMF line, stamped `timestamp_ms`.
    pub fn line(&self, timestamp_ms: i64) -> String {
        let flag = |on: bool| u64::from(on);
        let class = self.status / 100;
        let mut metrics: Vec<(&str, &str, Value)> = vec![
            ("Requests", "Count", json!(1)),
            ("Errors4xx", "Count", json!(flag(class == 4))),
            ("Errors5xx", "Count", json!(flag(class == 5))),
            (
                "ProviderErrors",
                "Count",
                json!(flag(self.provider_failure.is_some())),
            ),
            (
                "ProviderThrottles",
                "Count",
                json!(flag(
                    self.provider_failure == Some(ProviderFailure::Throttled)
                )),
            ),
            ("Latency", "Milliseconds", json!(self.latency_ms)),
            ("InputTokens", "Count", json!(self.usage.input_tokens)),
            ("OutputTokens", "Count", json!(self.usage.output_tokens)),
            ("EmbeddedTexts", "Count", json!(self.usage.embedded_texts)),
        ];
        // A member named in `Metrics` must be on the line, so unknown values are left out
        // rather than reported as 0 (a model without a price did cost something).
        if let Some(cost) = self.cost_usd.filter(|c| c.is_finite()) {
            metrics.push(("CostUSD", "None", json!(cost)));
        }
        if let Some(hits) = self.usage.embedding_cache_hits {
            metrics.push(("EmbeddingCacheHits", "Count", json!(hits)));
        }
        if let Some(misses) = self.usage.embedding_cache_misses {
            metrics.push(("EmbeddingCacheMisses", "Count", json!(misses)));
        }
        let mut root = Map::new();
        root.insert("function".into(), json!(self.function.binary()));
        let mut dimensions = vec![json!(["function"])];
        if let Some(intent) = self.intent {
            root.insert("intent".into(), json!(intent));
            dimensions.push(json!(["intent"]));
            if let Some(provider) = self.provider {
                root.insert("provider".into(), json!(provider));
                dimensions.push(json!(["intent", "provider"]));
            }
        }
        root.insert("request_id".into(), json!(self.request_id));
        let mut definitions = Vec::with_capacity(metrics.len());
        for (name, unit, value) in metrics {
            definitions.push(json!({"Name": name, "Unit": unit}));
            root.insert(name.into(), value);
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": definitions,
                }]
            }),
        );
        Value::Object(root).to_string()
    }

    /// Writes the line to stdout, where CloudWatch Logs picks it up.
    pub fn emit(&self) {
        println!("{}", self.line(chrono::Utc::now().timestamp_millis()));
    }
}

/// The line of one failed request-log write: `RequestLogWriteFailures` by `[function]`.
pub fn request_log_write_failure_line(function: Function, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["function"]],
                "Metrics": [{"Name": "RequestLogWriteFailures", "Unit": "Count"}]
            }]
        },
        "function": function.binary(),
        "RequestLogWriteFailures": 1
    })
    .to_string()
}
