//! The HTTP boundary: from an API Gateway (REST, v1 payload) request to a response.
//!
//! In order, for every request: find the request id, strip any stage from the path, route
//! (404 / 405 with `Allow`), check the media type (415) and size (413), parse JSON (400 for
//! syntax, 422 with a JSON pointer for shape), validate (422 with every error), call the intent,
//! wrap the result in the envelope. A panic or unexpected error anywhere inside becomes an opaque
//! problem+json 500 carrying the request id, with the cause in the log. Then the request's end
//! ([`crate::request_end`]): its summary line, metric line and request log item.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::Instrument;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::caller::Caller;
use crate::config::{Config, ConfigError, GenerativeConfig};

use crate::contract::health::{DependencyCheck, HealthResponse, Status};
use crate::contract::limits::MAX_BODY_BYTES;
use crate::contract::{API_VERSION, Envelope, FieldError, Meta, Semantic, Usage};
use crate::embed::{EmbedError, Embedder};
use crate::intents::{self, Outcome};
use crate::metrics::ProviderFailure;
use crate::observability::RequestRecord;
use crate::problem::ApiError;
use crate::provider::embedded::EmbeddedProvider;
use crate::provider::generative::spent_on_failure;
use crate::provider::{Deadline, SharedProvider};
use crate::routes::{Function, Operation, RouteMatch, match_route};
use crate::store::dynamo::{Clients, DynamoFeedbackStore, DynamoRequestLog};
use crate::store::memory::{MemoryFeedbackStore, MemoryRequestLog};
use crate::store::{FeedbackStore, RequestLog};
use crate::tracing_export;

/// What a function needs to serve requests; built once per cold start.
pub struct App {
    pub function: Function,
    /// The intent engine. Only the intent functions set it (from their `main`, through
    /// [`App::for_intent_function`]), so the engines are linked into those binaries alone and
    /// health, feedback and docs stay small.
    pub provider: Option<SharedProvider>,
    pub request_log: Arc<dyn RequestLog>,
    /// Present in the feedback function only.
    pub feedback: Option<Arc<dyn FeedbackStore>>,
    /// Present in the jobs function only (set by [`App::with_jobs`]).
    pub jobs: Option<Arc<crate::jobs::service::Jobs>>,
    /// The DynamoDB clients of this environment, shared by every store built on them.
    dynamo: Clients,
    pub log_settings: LogSettings,
    /// `MODEL_DIR`, for [`App::with_intent_provider`].
    pub model_dir: Option<PathBuf>,
    /// Which engine [`App::with_intent_provider`] builds, and the deadline of its calls.
    pub provider_config: ProviderConfig,
    /// Where the handler sends log items when the request-log extension runs (see
    /// [`crate::after_response`]); unset, items are written before answering.
    pub(crate) deferred_log: OnceLock<mpsc::UnboundedSender<crate::after_response::DeferredLog>>,
}

/// The provider settings of the configuration that the app keeps.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub generative: Option<GenerativeConfig>,
    pub fallback_to_embedded: bool,
    /// `PROVIDER_TIMEOUT_MS`: the budget of a request's provider calls.
    pub timeout: Duration,
    /// `MAX_INPUT_TOKENS`: the cap on a generative model's input per request (`None`: no cap).
    pub max_input_tokens: Option<u64>,
    /// `EMBEDDING_CACHE_MB` in bytes: the embedding model's cache (0: none).
    pub embedding_cache_bytes: usize,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            generative: None,
            fallback_to_embedded: false,
            timeout: Duration::from_secs(25),
            max_input_tokens: Some(crate::config::DEFAULT_MAX_INPUT_TOKENS),
            embedding_cache_bytes: (crate::config::DEFAULT_EMBEDDING_CACHE_MB << 20) as usize,
        }
    }
}

/// How request log items are written.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub ttl_days: u32,
    pub budget: Duration,
    pub include_input: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            ttl_days: 30,
            budget: Duration::from_millis(300),
            include_input: false,
        }
    }
}

pub use crate::request_end::request_log_failures;
use crate::request_end::{MetricsOutcome, record_request};

impl App {
    /// Builds the app from the environment and AWS clients. Errors here stop the cold start with
    /// a message that names what is missing.
    pub async fn from_env(function: Function) -> anyhow::Result<App> {
        let config = Config::from_env()?;
        let clients = Clients::lazy();
        let feedback: Option<Arc<dyn FeedbackStore>> = if function == Function::Feedback {
            let table = config.feedback_table.clone().ok_or(ConfigError::Missing {
                name: "FEEDBACK_TABLE",
                why: "the feedback function stores feedback in this DynamoDB table",
            })?;
            Some(Arc::new(DynamoFeedbackStore::new(clients.clone(), table)))
        } else {
            None
        };
        let embedded_answers = config.generative.is_none() || config.fallback_to_embedded;
        if function.uses_model() && embedded_answers && config.model_dir.is_none() {
            tracing::warn!(
                "MODEL_DIR is not set: the classic engine answers without the embedding model"
            );
        }
        Ok(App {
            function,
            provider: None,
            model_dir: config.model_dir.clone(),
            provider_config: ProviderConfig {
                generative: config.generative.clone(),
                fallback_to_embedded: config.fallback_to_embedded,
                timeout: config.provider_timeout,
                max_input_tokens: config.max_input_tokens,
                embedding_cache_bytes: config.embedding_cache_bytes,
            },
            request_log: Arc::new(DynamoRequestLog::new(
                clients.clone(),
                config.request_log_table.clone(),
            )),
            feedback,
            jobs: None,
            dynamo: clients.clone(),
            log_settings: LogSettings {
                ttl_days: config.request_log_ttl_days,
                budget: config.request_log_budget,
                include_input: config.request_log_include_input,
            },
            deferred_log: OnceLock::new(),
        })
    }

    /// Builds the configured intent engine: the embedded one (hybrid when `MODEL_DIR` holds the
    /// model, loaded with `load` and wrapped in the `EMBEDDING_CACHE_MB` cache), or a generative provider (`INTENT_PROVIDER=bedrock|openai`),
    /// with the embedded engine behind it when `PROVIDER_FALLBACK=embedded`.
    ///
    /// Only the intent functions call this (from their `main`, with `MiniLm::load`), so the
    /// engines are linked into those binaries alone and the others stay small and fast to start.
    /// A missing or corrupt model, or a bad provider setting, stops the cold start with a message
    /// that names what to fix.
    pub async fn with_intent_provider<E, F>(mut self, load: F) -> anyhow::Result<App>
    where
        E: Embedder + 'static,
        F: FnOnce(&Path) -> Result<E, EmbedError>,
    {
        self.provider = Some(
            crate::provider::setup::intent_provider(
                self.provider_config.generative.as_ref(),
                self.provider_config.fallback_to_embedded,
                self.provider_config.max_input_tokens,
                self.model_dir.as_deref(),
                self.provider_config.embedding_cache_bytes,
                load,
            )
            .await?,
        );
        Ok(self)
    }

    /// The jobs function's store, queue and payload bucket, from the environment. Only the jobs
    /// function's `main` calls this, so the SQS and S3 clients are linked into that binary alone.
    pub fn with_jobs(mut self) -> anyhow::Result<App> {
        self.jobs = Some(Arc::new(crate::jobs::http::jobs_from_env(
            self.dynamo.clone(),
            self.provider_config.generative.is_some(),
        )?));
        Ok(self)
    }

    /// The whole cold start of an intent function: configuration, clients and the intent engine
    /// (see [`App::with_intent_provider`]). A failure is logged with its whole cause chain, then
    /// stops the cold start, so Lambda reports an init error instead of serving requests.
    pub async fn for_intent_function<E, F>(
        function: Function,
        load: F,
    ) -> Result<App, lambda_http::Error>
    where
        E: Embedder + 'static,
        F: FnOnce(&Path) -> Result<E, EmbedError>,
    {
        let built = async {
            App::from_env(function)
                .await?
                .with_intent_provider(load)
                .await
        };
        built.await.map_err(|e: anyhow::Error| {
            tracing::error!(error = format!("{e:#}"), "cold start failed");
            e.into()
        })
    }

    /// An app with the classic engine and in-memory storage, for tests and fuzzing: no
    /// environment, no network.
    pub fn in_memory(function: Function) -> App {
        App {
            function,
            provider: Some(Arc::new(EmbeddedProvider::new())),
            request_log: Arc::new(MemoryRequestLog::default()),
            feedback: Some(Arc::new(MemoryFeedbackStore::default())),
            dynamo: Clients::lazy(),
            jobs: Some(Arc::new(crate::jobs::service::Jobs {
                store: Arc::new(crate::jobs::memory::MemoryJobStore::default()),
                queue: Arc::new(crate::jobs::memory::MemoryQueue::default()),
                payloads: Arc::new(crate::jobs::memory::MemoryPayloads::default()),
                ttl_days: crate::contract::limits::JOB_DEFAULT_TTL_DAYS,
                inline_max: crate::jobs::payload::INLINE_MAX_BYTES,
                generative: false,
            })),
            log_settings: LogSettings::default(),
            model_dir: None,
            provider_config: ProviderConfig::default(),
            deferred_log: OnceLock::new(),
        }
    }
}

/// Runs the Lambda runtime loop for `app`, beside the request-log extension when the Extensions
/// API is there (see [`crate::after_response`]).
pub async fn run(app: App) -> Result<(), lambda_http::Error> {
    let app: &'static App = Box::leak(Box::new(app));
    let runtime = lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(handle(app, request).await)
    }));
    match crate::after_response::register(app).await {
        // Either loop ending is fatal: the process exits and Lambda starts a new environment.
        Some(extension) => tokio::try_join!(runtime, extension).map(|_| ()),
        None => runtime.await,
    }
}

/// Facts gathered while handling, for the summary line.
#[derive(Default)]
struct Trace {
    route: Option<&'static str>,
    provider: Option<&'static str>,
    model: Option<String>,
    usage: Usage,
    cost_usd: Option<f64>,
    stop_reason: Option<String>,
    fallback_reason: Option<&'static str>,
    error_code: Option<&'static str>,
}

/// Handles one request; never fails and never panics outwards.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let path = route_path(&request);
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, route = %path);
    tracing_export::link_invocation(&span, &request, &request_id);
    async move {
        let body = body_bytes(&request);
        let input_bytes = body.len() as u64;
        let input_sha256 = hex::encode(Sha256::digest(body));
        let caller = Caller::of_request(&request);
        let mut trace = Trace::default();
        let (result, spent) = spent_on_failure::scope(async {
            let result = AssertUnwindSafe(dispatch(app, &request, &path, &request_id, &mut trace))
                .catch_unwind()
                .await;
            (result, spent_on_failure::take())
        })
        .await;
        let mut provider_failure = None;
        let mut response = match result {
            Ok(Ok(response)) => {
                provider_failure = trace.fallback_reason.map(ProviderFailure::of_fallback);
                response
            }
            Ok(Err(err)) => {
                trace.error_code = Some(err.code());
                provider_failure = ProviderFailure::of_error(&err);
                // The model calls of a failed request were billed all the same.
                if let Some(spent) = spent {
                    trace.provider = Some(spent.provider);
                    trace.model = Some(spent.model);
                    trace.usage = spent.usage;
                    trace.cost_usd = spent.cost_usd.map(round_usd);
                    trace.stop_reason = spent.stop_reason;
                }
                if err.status().is_server_error() {
                    // `{:#}` prints the whole anyhow cause chain on one line.
                    match &err {
                        ApiError::Unexpected(cause) => {
                            tracing::error!(error = format!("{cause:#}"), "request failed")
                        }
                        other => tracing::error!(error = %other, "request failed"),
                    }
                } else {
                    tracing::info!(error = %err, "request rejected");
                }
                err.into_response(&path, &request_id)
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_owned());
                tracing::error!(panic = %message, "handler panicked");
                trace.error_code = Some("internal");
                ApiError::Unexpected(anyhow::anyhow!("handler panicked: {message}"))
                    .into_response(&path, &request_id)
            }
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", v);
        }
        let record = RequestRecord {
            request_id: request_id.clone(),
            route: trace
                .route
                .map(str::to_owned)
                .unwrap_or_else(|| path.clone()),
            method,
            status: response.status().as_u16(),
            latency_ms: started.elapsed().as_millis() as u64,
            provider: trace.provider.map(str::to_owned),
            model: trace.model,
            usage: trace.usage,
            cost_usd: trace.cost_usd,
            stop_reason: trace.stop_reason,
            fallback_reason: trace.fallback_reason.map(str::to_owned),
            caller,
            input_bytes,
            input_sha256,
            error_code: trace.error_code.map(str::to_owned),
        };
        let outcome = MetricsOutcome {
            status: record.status,
            provider_failure,
        };
        record_request(app, record, outcome, body).await;
        response
    }
    .instrument(span)
    .await
}

async fn dispatch(
    app: &App,
    request: &Request,
    path: &str,
    request_id: &str,
    trace: &mut Trace,
) -> Result<Response<Body>, ApiError> {
    let method = request.method().as_str();
    let (route, params) = match match_route(method, path) {
        RouteMatch::Found { route, params } => (route, params),
        RouteMatch::WrongMethod { allow } => {
            return Err(ApiError::MethodNotAllowed {
                method: method.to_owned(),
                path: path.to_owned(),
                allow,
            });
        }
        RouteMatch::NotFound => {
            return Err(ApiError::NotFound {
                method: method.to_owned(),
                path: path.to_owned(),
            });
        }
    };
    trace.route = Some(route.path);
    if route.function != app.function {
        // API Gateway sent a route to the wrong function: a deployment fault, not the caller's.
        tracing::warn!(expected = %route.function, "route served by another function");
        return Err(ApiError::NotFound {
            method: method.to_owned(),
            path: path.to_owned(),
        });
    }
    let started = Instant::now();
    let deadline = request_deadline(app, request);
    // Every intent route needs the engine; the others (health, feedback, docs) never touch it.
    let engine = || {
        app.provider.as_deref().ok_or_else(|| {
            ApiError::Unexpected(anyhow::anyhow!(
                "function {} has no intent engine (its main must call App::for_intent_function)",
                app.function.binary()
            ))
        })
    };
    match route.operation {
        Operation::Summarize => {
            let input = parse_json(request)?;
            let engine = engine()?;
            respond(
                intents::summarize::summarize(engine, &input, deadline)
                    .instrument(tracing_export::provider_span("summarize", engine.name()))
                    .await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Classify => {
            let input = parse_json(request)?;
            let engine = engine()?;
            respond(
                intents::classify::classify(engine, &input, deadline)
                    .instrument(tracing_export::provider_span("classify", engine.name()))
                    .await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Extract => {
            let input = parse_json(request)?;
            let engine = engine()?;
            respond(
                intents::extract::extract(engine, &input, deadline)
                    .instrument(tracing_export::provider_span("extract", engine.name()))
                    .await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Recommend => {
            let input = parse_json(request)?;
            let engine = engine()?;
            respond(
                intents::recommend::recommend(engine, &input, deadline)
                    .instrument(tracing_export::provider_span("recommend", engine.name()))
                    .await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Score => {
            let input = parse_json(request)?;
            let engine = engine()?;
            respond(
                intents::score::score(engine, &input, deadline)
                    .instrument(tracing_export::provider_span("score", engine.name()))
                    .await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Health => Ok(health(app).await),
        Operation::SubmitFeedback => {
            let input = parse_json(request)?;
            let caller = Caller::of_request(request);
            let response = intents::feedback::submit(feedback_store(app)?, input, &caller)
                .instrument(tracing_export::store_write_span("feedback"))
                .await?;
            let status = if response.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(plain_envelope(status, response, request_id, started))
        }
        Operation::GetFeedback => {
            let id = params
                .iter()
                .find(|(k, _)| *k == "request_id")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            let response = intents::feedback::get(feedback_store(app)?, id).await?;
            Ok(plain_envelope(
                StatusCode::OK,
                response,
                request_id,
                started,
            ))
        }
        Operation::SummarizeStream => Err(ApiError::Unexpected(anyhow::anyhow!(
            "the streaming route reached a buffered function (it is served by \
             streaming::handler::run)"
        ))),
        Operation::OpenApi => crate::openapi::document_response(),
        Operation::DocsPage => crate::openapi::docs_page_response(),
        Operation::SubmitJob => {
            crate::jobs::http::submit(jobs(app)?, request, request_id, started).await
        }
        Operation::GetJob => {
            let id = params
                .iter()
                .find(|(k, _)| *k == "job_id")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            crate::jobs::http::get(jobs(app)?, id, request_id, started).await
        }
    }
}

fn jobs(app: &App) -> Result<&crate::jobs::service::Jobs, ApiError> {
    app.jobs.as_deref().ok_or_else(|| {
        ApiError::Unexpected(anyhow::anyhow!(
            "jobs route reached a function without the jobs table"
        ))
    })
}

fn feedback_store(app: &App) -> Result<&dyn FeedbackStore, ApiError> {
    app.feedback.as_deref().ok_or_else(|| {
        ApiError::Unexpected(anyhow::anyhow!(
            "feedback route reached a function without a feedback store"
        ))
    })
}

/// The envelope for routes that use no model: `meta.provider` and `meta.model` are `none`.
pub(crate) fn plain_envelope<T: Serialize>(
    status: StatusCode,
    result: T,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    envelope_response(status, Outcome::plain(result), request_id, started)
}

/// Margin kept before the function's own timeout, so a late provider answer still leaves time to
/// answer the client and log the request.
const FUNCTION_DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// The request's one deadline: the provider budget (`PROVIDER_TIMEOUT_MS`), shortened to what the
/// invocation has left when Lambda says so.
pub(crate) fn request_deadline(app: &App, request: &Request) -> Deadline {
    let budget = Deadline::after(app.provider_config.timeout);
    let Some(ctx) = request.lambda_context_ref() else {
        return budget;
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    // A zero deadline means the runtime did not say (tests, some emulators).
    if ctx.deadline == 0 {
        return budget;
    }
    let left = Duration::from_millis(ctx.deadline.saturating_sub(now_ms))
        .saturating_sub(FUNCTION_DEADLINE_MARGIN);
    budget.earliest(Deadline::after(left))
}

/// The one place a success body is built: the result fields plus `meta`.
fn envelope_response<T: Serialize>(
    status: StatusCode,
    outcome: Outcome<T>,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    json_response(status, &envelope(outcome, request_id, started))
}

/// The success body of an intent: its result plus `meta`. The job worker stores exactly this.
pub(crate) fn envelope<T: Serialize>(
    outcome: Outcome<T>,
    request_id: &str,
    started: Instant,
) -> Envelope<T> {
    Envelope {
        result: outcome.result,
        meta: Meta {
            request_id: request_id.to_owned(),
            api_version: API_VERSION.to_owned(),
            provider: outcome.provider.to_owned(),
            model: outcome.model,
            usage: outcome.usage,
            cost_usd: outcome.cost_usd.map(round_usd),
            fallback_reason: outcome.fallback_reason.map(str::to_owned),
            latency_ms: started.elapsed().as_millis() as u64,
        },
    }
}

async fn health(app: &App) -> Response<Body> {
    let mut checks: Vec<DependencyCheck> = app
        .provider
        .iter()
        .map(|provider| DependencyCheck {
            name: format!("provider:{}", provider.name()),
            status: Status::Ok,
            latency_ms: 0,
            detail: None,
        })
        .collect();
    // The request log is soft, so its loss degrades observability but not the API.
    checks.push(dependency("request_log", Status::Degraded, app.request_log.check()).await);
    if let Some(store) = &app.feedback {
        checks.push(dependency("feedback_store", Status::Down, store.check()).await);
    }
    let status = if checks.iter().any(|c| c.status == Status::Down) {
        Status::Down
    } else if checks.iter().any(|c| c.status == Status::Degraded) {
        Status::Degraded
    } else {
        Status::Ok
    };
    let body = HealthResponse {
        status,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        checks,
    };
    let code = if status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut response = json_response(code, &body);
    if status == Status::Down {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// Runs one dependency check with a one-second budget; `on_failure` says how much it matters.
async fn dependency(
    name: &str,
    on_failure: Status,
    check: impl std::future::Future<Output = Result<(), crate::store::StoreError>>,
) -> DependencyCheck {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(1), check).await;
    let (status, detail) = match result {
        Ok(Ok(())) => (Status::Ok, None),
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %e, "health check failed");
            (on_failure, Some("not reachable".to_owned()))
        }
        Err(_) => (on_failure, Some("no answer within 1 s".to_owned())),
    };
    DependencyCheck {
        name: name.to_owned(),
        status,
        latency_ms: started.elapsed().as_millis() as u64,
        detail,
    }
}

/// Dollars to 8 decimals: sub-cent costs stay visible without float noise.
fn round_usd(usd: f64) -> f64 {
    (usd * 1e8).round() / 1e8
}

fn respond<T: Serialize>(
    outcome: Outcome<T>,
    request_id: &str,
    started: Instant,
    trace: &mut Trace,
) -> Result<Response<Body>, ApiError> {
    trace.provider = Some(outcome.provider);
    trace.model = Some(outcome.model.clone());
    trace.usage = outcome.usage;
    trace.cost_usd = outcome.cost_usd.map(round_usd);
    trace.stop_reason = outcome.stop_reason.clone();
    trace.fallback_reason = outcome.fallback_reason;
    Ok(envelope_response(
        StatusCode::OK,
        outcome,
        request_id,
        started,
    ))
}

/// A JSON response. Serialising our own plain types cannot fail; if it ever did, the caller gets
/// a 500 problem instead of a truncated body.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut response = Response::new(Body::Text(text));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => ApiError::Unexpected(anyhow::Error::new(e).context("serialising a response"))
            .into_response("", ""),
    }
}

/// Parses and validates a JSON request body into `T`.
pub fn parse_json<T>(request: &Request) -> Result<T, ApiError>
where
    T: DeserializeOwned + Validate + Semantic,
{
    check_media_type(request)?;
    let body = body_bytes(request);
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
            actual: body.len(),
        });
    }
    parse_and_validate(body)
}

/// The body-only half of [`parse_json`], also used by the fuzz targets.
pub fn parse_and_validate<T>(body: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + Validate + Semantic,
{
    let parse = tracing_export::parse_span().entered();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    // Syntax first: a body that is not JSON at all is a 400 even when a typed parse would have
    // stopped earlier at an unknown field.
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(err) => {
            let mut pointer = to_pointer(err.path());
            let inner = err.into_inner();
            let message = strip_position(&inner.to_string());
            let mut code = "type";
            // serde reports a missing field at the object that lacks it; point at the field.
            if let Some(field) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                pointer = format!("{pointer}/{field}");
                code = "required";
            }
            return Err(match inner.classify() {
                serde_json::error::Category::Data => {
                    ApiError::Validation(vec![FieldError::new(pointer, code, message)])
                }
                _ => ApiError::MalformedJson(inner.to_string()),
            });
        }
    };
    de.end().map_err(|e| {
        ApiError::MalformedJson(format!("unexpected data after the JSON value: {e}"))
    })?;

    drop(parse);
    let _validate = tracing_export::validate_span().entered();
    let mut errors = Vec::new();
    if let Err(e) = value.validate() {
        flatten_validation(&e, "", &mut errors);
    }
    errors.extend(value.semantic_errors());
    if errors.is_empty() {
        Ok(value)
    } else {
        errors.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.code.cmp(&b.code)));
        errors.dedup();
        Err(ApiError::Validation(errors))
    }
}

pub(crate) fn check_media_type(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(
            "missing Content-Type; send the body as application/json".into(),
        ));
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let charset_ok = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .all(|(_, v)| v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8"));
    if (media == "application/json" || media.ends_with("+json")) && charset_ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type '{}' is not supported; send the body as application/json (UTF-8)",
            value.to_str().unwrap_or("<not text>")
        )))
    }
}

pub(crate) fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b.as_slice(),
        _ => &[],
    }
}

/// The API Gateway request id (what API Gateway logs and returns as `x-amzn-RequestId`), else
/// the Lambda invocation id, else a fresh one.
pub(crate) fn request_id(request: &Request) -> String {
    if let RequestContext::ApiGatewayV1(ctx) = request.request_context()
        && let Some(id) = ctx.request_id.filter(|id| !id.is_empty())
    {
        return id;
    }
    if let Some(ctx) = request.lambda_context_ref()
        && !ctx.request_id.is_empty()
    {
        return ctx.request_id.clone();
    }
    fresh_id()
}

fn fresh_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = Sha256::digest(format!("{nanos}-{n}-{}", std::process::id()));
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The request path without the stage: API Gateway puts the resource path in the event, but a
/// custom domain or a proxy in front may keep `/{stage}` in it; either way `/Prod/v1/score` and
/// `/v1/score` must route the same.
pub fn route_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    let stage = match request.request_context() {
        RequestContext::ApiGatewayV1(ctx) => ctx.stage,
        #[allow(unreachable_patterns)]
        _ => None,
    };
    if let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") {
        let prefix = format!("/{stage}");
        if let Some(rest) = raw.strip_prefix(&prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return if rest.is_empty() {
                "/".to_owned()
            } else {
                rest.to_owned()
            };
        }
    }
    raw.to_owned()
}

fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => out.push('-'),
        }
    }
    if out == "/-" { String::new() } else { out }
}

/// serde_json appends "at line 1 column 42" to data errors; the pointer says where, better.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn flatten_validation(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let pointer = if field == "__all__" {
            prefix.to_owned()
        } else {
            format!("{prefix}/{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(FieldError::new(pointer.clone(), &e.code, describe(e)));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_validation(inner, &pointer, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten_validation(inner, &format!("{pointer}/{i}"), out);
                }
            }
        }
    }
}

fn describe(e: &validator::ValidationError) -> String {
    if let Some(m) = &e.message {
        return m.to_string();
    }
    let param = |k: &str| e.params.get(k).map(|v| v.to_string());
    let unit = match e.params.get("value") {
        Some(serde_json::Value::Array(_)) => "items",
        _ => "characters",
    };
    match e.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must have {min} to {max} {unit}"),
            (None, Some(max)) => format!("must have at most {max} {unit}"),
            (Some(min), None) => format!("must have at least {min} {unit}"),
            _ => "has an invalid length".to_owned(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (None, Some(max)) => format!("must be at most {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            _ => "is out of range".to_owned(),
        },
        other => format!("is invalid ({other})"),
    }
}
