//! The end of every request, buffered or streamed: its summary log line, its metric line, and
//! its request log item, which is handed to the request-log extension to write after the
//! response (see [`crate::after_response`]) or written at once without one. The write is soft:
//! bounded by its budget, and a failure only logs and counts (`RequestLogWriteFailures`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::http::App;
use crate::metrics::{ProviderFailure, RequestMetrics};
use crate::observability::RequestRecord;
use crate::store::LogItem;
use crate::tracing_export::{self, TraceParent};
use tracing::Instrument;

/// Request log writes that failed or ran out of time since the cold start.
static REQUEST_LOG_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Count of failed request log writes in this execution environment.
pub fn request_log_failures() -> u64 {
    REQUEST_LOG_FAILURES.load(Ordering::Relaxed)
}

/// What a request's metric line needs beyond its record: the status of its outcome (a stream
/// that failed after it started answered 200 but ended with an error) and the provider's part in
/// a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetricsOutcome {
    pub status: u16,
    pub provider_failure: Option<ProviderFailure>,
}

/// The end of every request, buffered or streamed: the summary line, the metric line, then the
/// request log item (handed to the extension to write after the response, or written now
/// without one).
pub(crate) async fn record_request(
    app: &App,
    record: RequestRecord,
    outcome: MetricsOutcome,
    body: &[u8],
) {
    record.log();
    let intent = crate::metrics::intent_of(app.function);
    RequestMetrics {
        function: app.function,
        intent,
        // A request refused before the engine answered is still the configured provider's.
        provider: record
            .provider
            .as_deref()
            .or_else(|| app.provider.as_ref().map(|p| p.name())),
        status: outcome.status,
        latency_ms: record.latency_ms,
        usage: record.usage,
        cost_usd: record.cost_usd,
        provider_failure: outcome.provider_failure,
        request_id: &record.request_id,
    }
    .emit();
    let input = app.log_settings.include_input.then(|| {
        String::from_utf8_lossy(&body[..body.len().min(MAX_LOGGED_INPUT_BYTES)]).into_owned()
    });
    let item = log_item(app, record, input);
    let write = || tracing_export::store_write_span("request_log");
    match app.deferred_log.get() {
        Some(extension) => {
            if let Err(unsent) = extension.send((item, TraceParent::current())) {
                write_log_item(app, unsent.0.0).instrument(write()).await;
            }
        }
        None => write_log_item(app, item).instrument(write()).await,
    }
}

/// Longest body kept in the request log when input logging is enabled.
const MAX_LOGGED_INPUT_BYTES: usize = 32 * 1024;

/// The log item for one request, stamped now.
fn log_item(app: &App, record: RequestRecord, input: Option<String>) -> LogItem {
    let now = chrono::Utc::now();
    LogItem {
        expires_at: now.timestamp() + i64::from(app.log_settings.ttl_days) * 86_400,
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        record,
        input,
    }
}

/// The soft write: bounded by the budget, and a failure only logs and counts.
pub(crate) async fn write_log_item(app: &App, item: LogItem) {
    let now = chrono::Utc::now();
    let outcome =
        tokio::time::timeout(app.log_settings.budget, app.request_log.append(&item)).await;
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => format!("no answer within {:?}", app.log_settings.budget),
    };
    let failures = REQUEST_LOG_FAILURES.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::warn!(
        event = "request_log_write_failed",
        error = %error,
        failures_since_cold_start = failures,
        "request log write failed; the response is unaffected"
    );
    // CloudWatch embedded metric format: turns this log line into a metric to alarm on.
    println!(
        "{}",
        crate::metrics::request_log_write_failure_line(app.function, now.timestamp_millis())
    );
}
