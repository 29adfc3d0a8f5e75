//! The streaming Lambda function behind `POST /v1/summarize/stream`.
//!
//! Before the first byte: route, media type, size, JSON, validation and starting the summary
//! (which connects to the model), each failure an ordinary problem+json response. Then a `200`
//! with `text/event-stream`: `start`, the deltas, and one `done` or `error`. While the model is
//! silent a comment line goes out every [`KEEPALIVE`]; a model silent for [`IDLE_LIMIT`], or a
//! stream that would outlive the invocation, ends with an `error` event. The body is produced as
//! the runtime pulls it (no detached task): when the client goes away, the runtime stops
//! pulling, the upstream stream is dropped, and the model stops writing. The request log item is
//! written when the stream ends, with the usage and cost of the whole summary.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::events::{StreamDelta, StreamDone, StreamError, StreamStart};
use super::sse;
use super::summarize::{Accounting, Piece, open};
use crate::caller::Caller;
use crate::contract::Usage;
use crate::contract::summarize::SummarizeRequest;
use crate::http::{App, body_bytes, parse_json, request_deadline, request_id, route_path};
use crate::metrics::ProviderFailure;
use crate::observability::RequestRecord;
use crate::problem::ApiError;
use crate::provider::generative::spent_on_failure;
use crate::request_end::{MetricsOutcome, record_request};
use crate::routes::{Operation, RouteMatch, match_route};

/// A comment line goes out after this much silence, so that proxies keep the stream open.
pub const KEEPALIVE: Duration = Duration::from_secs(10);
/// A model silent this long has stalled: the stream ends with a retryable `error`.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Streams end before the invocation does, so the last event and the log write still happen.
const INVOCATION_MARGIN: Duration = Duration::from_secs(3);
/// Longest stream when the runtime gives no deadline (local runs): API Gateway's own limit for
/// streamed responses is 15 minutes.
const DEFAULT_STREAM_LIMIT: Duration = Duration::from_secs(14 * 60);

/// The stream's timers; [`StreamLimits::default`] is what the function uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Silence after which a comment line goes out.
    pub keepalive: Duration,
    /// Silence after which the model is taken to have stalled.
    pub idle: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            keepalive: KEEPALIVE,
            idle: IDLE_LIMIT,
        }
    }
}

/// The streamed body: frames pulled by the runtime as it writes them.
pub type SseBody = StreamBody<BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

/// Runs the streaming runtime loop for `app`, beside the request-log extension.
pub async fn run(app: App) -> Result<(), lambda_http::Error> {
    let app: &'static App = Box::leak(Box::new(app));
    let runtime =
        lambda_http::run_with_streaming_response(service_fn(move |request: Request| async move {
            Ok::<_, Infallible>(handle(app, request).await)
        }));
    match crate::after_response::register(app).await {
        Some(extension) => tokio::try_join!(runtime, extension).map(|_| ()),
        None => runtime.await,
    }
}

/// What the log item needs from the request, gathered before the body is handed over.
struct Facts {
    request_id: String,
    path: String,
    method: String,
    caller: Caller,
    input_bytes: u64,
    input_sha256: String,
    body: Vec<u8>,
    started: Instant,
    /// When the stream must have ended.
    ends_at: Instant,
}

impl Facts {
    fn record(&self, status: u16) -> RequestRecord {
        RequestRecord {
            request_id: self.request_id.clone(),
            route: "/v1/summarize/stream".to_owned(),
            method: self.method.clone(),
            status,
            latency_ms: self.started.elapsed().as_millis() as u64,
            provider: None,
            model: None,
            usage: Usage::default(),
            cost_usd: None,
            stop_reason: None,
            fallback_reason: None,
            caller: self.caller.clone(),
            input_bytes: self.input_bytes,
            input_sha256: self.input_sha256.clone(),
            error_code: None,
        }
    }
}

/// Handles one request; never fails and never panics outwards.
pub async fn handle(app: &'static App, request: Request) -> Response<SseBody> {
    handle_with(app, request, StreamLimits::default()).await
}

/// [`handle`] with other timers (tests use short ones).
pub async fn handle_with(
    app: &'static App,
    request: Request,
    limits: StreamLimits,
) -> Response<SseBody> {
    let body = body_bytes(&request).to_vec();
    let facts = Facts {
        request_id: request_id(&request),
        path: route_path(&request),
        method: request.method().as_str().to_owned(),
        caller: Caller::of_request(&request),
        input_bytes: body.len() as u64,
        input_sha256: hex::encode(Sha256::digest(&body)),
        body,
        started: Instant::now(),
        ends_at: stream_end(&request),
    };
    let span = tracing::info_span!("request", request_id = %facts.request_id, route = %facts.path);
    crate::tracing_export::link_invocation(&span, &request, &facts.request_id);
    async move {
        let (started, spent) = spent_on_failure::scope(async {
            let started = AssertUnwindSafe(start(app, &request, &facts))
                .catch_unwind()
                .await;
            (started, spent_on_failure::take())
        })
        .await;
        let started = started.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Err(ApiError::Unexpected(anyhow::anyhow!(
                "handler panicked: {message}"
            )))
        });
        match started {
            Ok(opened) => stream_response(app, facts, opened, limits),
            Err(err) => {
                if err.status().is_server_error() {
                    tracing::error!(error = format!("{err:#}"), "request failed");
                } else {
                    tracing::info!(error = %err, "request rejected");
                }
                let mut record = facts.record(err.status().as_u16());
                record.error_code = Some(err.code().to_owned());
                // Model calls made before the failure were billed all the same.
                if let Some(spent) = spent {
                    record.provider = Some(spent.provider.to_owned());
                    record.model = Some(spent.model);
                    record.usage = spent.usage;
                    record.cost_usd = spent.cost_usd;
                    record.stop_reason = spent.stop_reason;
                }
                let outcome = MetricsOutcome {
                    status: record.status,
                    provider_failure: ProviderFailure::of_error(&err),
                };
                record_request(app, record, outcome, &facts.body).await;
                problem_response(err, &facts)
            }
        }
    }
    .instrument(span)
    .await
}

/// Everything before the first byte: routing, parsing, validation, starting the summary.
async fn start(
    app: &'static App,
    request: &Request,
    facts: &Facts,
) -> Result<super::summarize::Opened, ApiError> {
    let method = request.method().as_str();
    match match_route(method, &facts.path) {
        RouteMatch::Found { route, .. } if route.operation == Operation::SummarizeStream => {}
        RouteMatch::WrongMethod { allow } => {
            return Err(ApiError::MethodNotAllowed {
                method: method.to_owned(),
                path: facts.path.clone(),
                allow,
            });
        }
        _ => {
            return Err(ApiError::NotFound {
                method: method.to_owned(),
                path: facts.path.clone(),
            });
        }
    }
    let input: SummarizeRequest = parse_json(request)?;
    let provider = app.provider.as_deref().ok_or_else(|| {
        ApiError::Unexpected(anyhow::anyhow!(
            "the streaming function has no intent engine"
        ))
    })?;
    open(provider, &input, request_deadline(app, request)).await
}

/// A problem+json response in the streamed body type.
fn problem_response(err: ApiError, facts: &Facts) -> Response<SseBody> {
    let response = err.into_response(&facts.path, &facts.request_id);
    let (mut parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    if let Ok(v) = HeaderValue::from_str(&facts.request_id) {
        parts.headers.insert("x-request-id", v);
    }
    let frames: BoxStream<'static, Result<Frame<Bytes>, Infallible>> =
        stream::iter([Ok(Frame::data(bytes))]).boxed();
    Response::from_parts(parts, StreamBody::new(frames))
}

struct Streaming {
    app: &'static App,
    facts: Facts,
    pieces: BoxStream<'static, Piece>,
    provider: &'static str,
    model: String,
    phase: Phase,
    last_piece: Instant,
    ends_at: Instant,
    limits: StreamLimits,
}

enum Phase {
    Start,
    Pieces,
    Ended,
}

fn stream_response(
    app: &'static App,
    facts: Facts,
    opened: super::summarize::Opened,
    limits: StreamLimits,
) -> Response<SseBody> {
    let ends_at = facts.ends_at;
    let request_id = facts.request_id.clone();
    let state = Streaming {
        app,
        facts,
        pieces: opened.pieces,
        provider: opened.provider,
        model: opened.model,
        phase: Phase::Start,
        last_piece: Instant::now(),
        ends_at,
        limits,
    };
    let frames = stream::unfold(state, next_frame)
        .map(|bytes| Ok::<_, Infallible>(Frame::data(bytes)))
        .boxed();
    let mut response = Response::new(StreamBody::new(frames));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Asks buffering proxies (nginx and its kin) to pass events through at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    response
}

/// When the stream must have ended: before the invocation's own deadline (what the runtime says
/// is left, less a margin for the last event and the log write), and never later than API
/// Gateway's limit for streamed responses.
fn stream_end(request: &Request) -> Instant {
    let now = Instant::now();
    let mut limit = DEFAULT_STREAM_LIMIT;
    if let Some(ctx) = request.lambda_context_ref()
        && ctx.deadline > 0
    {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let left = Duration::from_millis(ctx.deadline.saturating_sub(now_ms));
        limit = limit.min(left.saturating_sub(INVOCATION_MARGIN));
    }
    now + limit
}

async fn next_frame(mut st: Streaming) -> Option<(Bytes, Streaming)> {
    match st.phase {
        Phase::Ended => None,
        Phase::Start => {
            st.phase = Phase::Pieces;
            let start = StreamStart {
                request_id: st.facts.request_id.clone(),
                provider: st.provider.to_owned(),
                model: st.model.clone(),
            };
            Some((sse::event("start", &start), st))
        }
        Phase::Pieces => {
            let now = Instant::now();
            let idle_left = st.limits.idle.saturating_sub(now - st.last_piece);
            let total_left = st.ends_at.saturating_duration_since(now);
            let wait = st.limits.keepalive.min(idle_left).min(total_left);
            let piece = match tokio::time::timeout(wait, st.pieces.next()).await {
                Ok(Some(piece)) => piece,
                // The pieces always end with Done or Failed; ending without is a bug upstream.
                Ok(None) => Piece::Failed(
                    ApiError::Unexpected(anyhow::anyhow!(
                        "the summary stream ended without an end"
                    )),
                    None,
                ),
                Err(_) if idle_left > wait && total_left > wait => {
                    return Some((sse::comment("keep-alive"), st));
                }
                Err(_) => Piece::Failed(ApiError::ProviderTimeout, None),
            };
            st.last_piece = Instant::now();
            match piece {
                Piece::Delta(text) => Some((sse::event("delta", &StreamDelta { text }), st)),
                Piece::Done {
                    summary,
                    style,
                    accounting,
                } => {
                    let latency_ms = st.facts.started.elapsed().as_millis() as u64;
                    let done = StreamDone {
                        summary,
                        style,
                        usage: accounting.usage,
                        cost_usd: accounting.cost_usd,
                        stop_reason: accounting.stop_reason.clone(),
                        latency_ms,
                    };
                    let frame = sse::event("done", &done);
                    finish(&mut st, None, Some(accounting)).await;
                    Some((frame, st))
                }
                Piece::Failed(err, accounting) => {
                    tracing::warn!(error = format!("{err:#}"), "stream failed after it started");
                    let event =
                        StreamError::from_api_error(&err, &st.facts.path, &st.facts.request_id);
                    let frame = sse::event("error", &event);
                    finish(&mut st, Some(&err), accounting).await;
                    Some((frame, st))
                }
            }
        }
    }
}

/// The end of the stream: the request log item with what the summary cost.
async fn finish(st: &mut Streaming, err: Option<&ApiError>, accounting: Option<Accounting>) {
    st.phase = Phase::Ended;
    let mut record = st.facts.record(200);
    record.provider = Some(st.provider.to_owned());
    record.model = Some(st.model.clone());
    if let Some(a) = accounting {
        record.usage = a.usage;
        record.cost_usd = a.cost_usd;
        record.stop_reason = Some(a.stop_reason);
    }
    record.error_code = err.map(|e| e.code().to_owned());
    // The client got a 200, but the summary ended with the error's status: that is what the
    // metrics count.
    let outcome = MetricsOutcome {
        status: err.map_or(200, |e| e.status().as_u16()),
        provider_failure: err.and_then(ProviderFailure::of_error),
    };
    record_request(st.app, record, outcome, &st.facts.body).await;
}
