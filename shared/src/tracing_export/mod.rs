//! X-Ray traces of every request: the `tracing` spans the handlers open (`request`, `parse`,
//! `validate`, `provider`, `store_write`) sent to AWS X-Ray as subsegments of the invocation's
//! own segment, each annotated with the request id.
//!
//! The spans are ordinary `tracing` spans. When tracing is on, [`crate::observability::init`]
//! adds a `tracing-opentelemetry` layer that turns them into OpenTelemetry spans (ids from the
//! X-Ray id generator), and `opentelemetry-aws`'s X-Ray exporter sends them as segment documents
//! over UDP to the X-Ray daemon that Lambda runs beside a function with active tracing
//! (`AWS_XRAY_DAEMON_ADDRESS`). No collector layer, no HTTP: one datagram per span to a local
//! daemon.
//!
//! # When it runs
//! On Lambda with `Tracing: Active`, unless `INTENT_TRACING=off`; off everywhere else (no daemon
//! address), and then nothing below is on a request's path: the child spans are disabled at their
//! call sites and [`link_invocation`] returns at once. Lambda's sampling decision is kept: the
//! invocation's trace header (`Sampled=0|1`) is the parent of every span, and a span without a
//! sampled parent is never recorded.
//!
//! # Why spans are not lost, and never slow a request
//! Spans end into the SDK's batch processor (a queue and one background thread). The request-log
//! extension flushes it after the response is sent and before it lets Lambda freeze the
//! environment ([`flush`], called from [`crate::after_response`]); export errors are logged and
//! counted, never returned to a request.
//!
//! # Annotations
//! X-Ray indexes only annotations. The request id rides in the OpenTelemetry context from the
//! `request` span to every span under it (including the request-log write that finishes after
//! the response), and a span processor stamps it on each span as `annotation.request_id`, which
//! the exporter turns into the annotation `request_id`. `route`, `intent` and `provider` are
//! span fields the exporter is told to index.

mod annotate;
mod config;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use lambda_http::{Request, RequestExt};
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_aws::xray_exporter::{SegmentTranslator, XrayExporter};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use annotate::RequestAnnotation;
pub use config::{TracingConfig, TracingSetupError};

/// The `tracing` target of the spans that exist only for traces (`parse`, `validate`,
/// `provider`, `store_write`): the JSON log layer skips them, so a log line inside one still
/// carries the `request` span's request id and route.
pub const SPAN_TARGET: &str = "xray";

/// Span fields that become X-Ray annotations (searchable); other fields are left out.
const INDEXED_FIELDS: [&str; 3] = ["route", "intent", "provider"];

/// The tracer provider, set once when tracing is on. Its presence is the "tracing is on" switch.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Flushes that failed since the cold start.
static EXPORT_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Whether spans are exported in this process.
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// Builds the OpenTelemetry layer for `config` and remembers its provider for [`flush`]. Only
/// spans go to it (log events stay in the JSON logs).
pub fn layer<S>(config: &TracingConfig) -> Result<impl Layer<S> + use<S>, TracingSetupError>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let client =
        XrayDaemonClient::new(config.daemon).map_err(|source| TracingSetupError::Socket {
            daemon: config.daemon,
            source,
        })?;
    let translator =
        SegmentTranslator::new().with_indexed_attrs(INDEXED_FIELDS.iter().map(|f| (*f).to_owned()));
    let exporter = XrayExporter::new(client).with_translator(translator);
    // The batch's own schedule (every 5 s) is only a backstop where no extension flushes (an
    // emulator without the Extensions API): on Lambda the extension flushes every invocation.
    let batch = BatchSpanProcessor::builder(exporter).build();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        // Lambda decided whether this invocation is sampled; a span with no sampled parent (no
        // trace header, `Sampled=0`) is dropped at its start.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
        .with_span_processor(annotate::AnnotateRequest)
        .with_span_processor(batch)
        .build();
    let tracer = provider.tracer("intent-api");
    if PROVIDER.set(provider).is_err() {
        return Err(TracingSetupError::AlreadyInstalled);
    }
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.is_span() && *meta.level() <= tracing::Level::INFO
        })))
}

/// Makes the invocation's X-Ray trace header the parent of `span` (the request's root span) and
/// puts `request_id` into the trace context, so that every span of the request carries it.
/// A missing header leaves the request untraced; a malformed one is logged and does the same.
/// Call it right after creating `span`, before entering it.
pub fn link_invocation(span: &tracing::Span, request: &Request, request_id: &str) {
    if !enabled() {
        return;
    }
    let Some(header) = invocation_trace_header(request) else {
        return;
    };
    match config::parent_from_header(header) {
        Ok(parent) => {
            let cx = Context::new()
                .with_remote_span_context(parent)
                .with_value(RequestAnnotation::new(request_id));
            if let Err(err) = span.set_parent(cx) {
                tracing::debug!(error = %err, "request span not traced");
            }
        }
        Err(err) => tracing::warn!(error = %err, "request not traced"),
    }
}

/// The trace header Lambda hands the runtime with the event: its parent is the function's own
/// segment, so the request's subsegments hang under the invocation in the trace. (The header API
/// Gateway forwards names API Gateway's segment instead, and is not used.)
fn invocation_trace_header(request: &Request) -> Option<&str> {
    request
        .lambda_context_ref()
        .and_then(|ctx| ctx.xray_trace_id.as_deref())
        .filter(|header| !header.trim().is_empty())
}

/// The trace context of the current span, to parent work that outlives it (the request-log
/// write after the response). Empty when tracing is off.
#[derive(Debug, Clone, Default)]
pub struct TraceParent(Option<Context>);

impl TraceParent {
    /// The context of the span the caller is in.
    pub fn current() -> TraceParent {
        if !enabled() {
            return TraceParent(None);
        }
        TraceParent(Some(tracing::Span::current().context()))
    }

    /// Makes this context the parent of `span`, which must not have been entered yet.
    pub fn adopt(&self, span: &tracing::Span) {
        if let Some(cx) = &self.0 {
            let _ = span.set_parent(cx.clone());
        }
    }
}

/// Sends every finished span to the daemon now. Called when an invocation's work is done and
/// before the environment may be frozen; a failure is logged and counted, never returned.
pub fn flush() {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    if let Err(err) = provider.force_flush() {
        let failures = EXPORT_FAILURES.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            event = "trace_export_failed",
            error = %err,
            failures_since_cold_start = failures,
            "trace export failed; the response is unaffected"
        );
    }
}

/// Count of failed trace flushes in this execution environment.
pub fn export_failures() -> u64 {
    EXPORT_FAILURES.load(Ordering::Relaxed)
}

/// The `parse` span (JSON syntax and shape of the body).
pub fn parse_span() -> tracing::Span {
    tracing::info_span!(target: SPAN_TARGET, "parse")
}

/// The `validate` span (bounds and semantic rules of the parsed request).
pub fn validate_span() -> tracing::Span {
    tracing::info_span!(target: SPAN_TARGET, "validate")
}

/// The `provider` span: the intent's call into its engine.
pub fn provider_span(intent: &str, provider: &str) -> tracing::Span {
    tracing::info_span!(target: SPAN_TARGET, "provider", intent = intent, provider = provider)
}

/// The `store_write` span: a write to `table` (`request_log`, `feedback`), in the current span.
pub fn store_write_span(table: &str) -> tracing::Span {
    tracing::info_span!(target: SPAN_TARGET, "store_write", table = table)
}

/// The `store_write` span of a write that finishes after its request span has closed.
pub fn store_write_span_under(table: &str, parent: &TraceParent) -> tracing::Span {
    let span = store_write_span(table);
    parent.adopt(&span);
    span
}
