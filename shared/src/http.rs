//! The HTTP boundary: from an API Gateway (REST, v1 payload) request to a response.
//!
//! In order, for every request: find the request id, strip any stage from the path, route
//! (404 / 405 with `Allow`), check the media type (415) and size (413), parse JSON (400 for
//! syntax, 422 with a JSON pointer for shape), validate (422 with every error), call the intent,
//! wrap the result in the envelope. A panic or unexpected error anywhere inside becomes an opaque
//! problem+json 500 carrying the request id, with the cause in the log. Then one summary line.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::config::Config;
use crate::contract::health::{DependencyCheck, HealthResponse, Status};
use crate::contract::limits::MAX_BODY_BYTES;
use crate::contract::{API_VERSION, Envelope, FieldError, Meta, Semantic, Usage};
use crate::intents::{self, Outcome};
use crate::observability::RequestRecord;
use crate::problem::ApiError;
use crate::provider::SharedProvider;
use crate::provider::embedded::EmbeddedProvider;
use crate::routes::{Function, Operation, RouteMatch, match_route};

/// What a function needs to serve requests; built once per cold start.
pub struct App {
    pub function: Function,
    pub provider: SharedProvider,
}

impl App {
    /// Builds the app from the environment. Errors here stop the cold start with a clear message.
    pub fn from_env(function: Function) -> anyhow::Result<App> {
        let config = Config::from_env()?;
        App::new(function, &config)
    }

    /// An app with the classic engine and in-memory storage, for tests and fuzzing: no
    /// environment, no network.
    pub fn in_memory(function: Function) -> App {
        App {
            function,
            provider: Arc::new(EmbeddedProvider::new()),
        }
    }

    pub fn new(function: Function, _config: &Config) -> anyhow::Result<App> {
        Ok(App {
            function,
            provider: Arc::new(EmbeddedProvider::new()),
        })
    }
}

/// Runs the Lambda runtime loop for `app`.
pub async fn run(app: App) -> Result<(), lambda_http::Error> {
    let app: &'static App = Box::leak(Box::new(app));
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(handle(app, request).await)
    }))
    .await
}

/// Facts gathered while handling, for the summary line.
#[derive(Default)]
struct Trace {
    route: Option<&'static str>,
    provider: Option<&'static str>,
    model: Option<String>,
    usage: Usage,
    error_code: Option<&'static str>,
}

/// Handles one request; never fails and never panics outwards.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let path = route_path(&request);
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, route = %path);
    async move {
        let body = body_bytes(&request);
        let input_bytes = body.len() as u64;
        let input_sha256 = hex::encode(Sha256::digest(body));
        let client_id = client_id(&request);
        let mut trace = Trace::default();
        let result = AssertUnwindSafe(dispatch(app, &request, &path, &request_id, &mut trace))
            .catch_unwind()
            .await;
        let mut response = match result {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                trace.error_code = Some(err.code());
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
            client_id,
            input_bytes,
            input_sha256,
            error_code: trace.error_code.map(str::to_owned),
        };
        record.log();
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
    let (route, _params) = match match_route(method, path) {
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
    let provider = app.provider.as_ref();
    match route.operation {
        Operation::Summarize => {
            let input = parse_json(request)?;
            respond(
                intents::summarize::summarize(provider, &input).await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Classify => {
            let input = parse_json(request)?;
            respond(
                intents::classify::classify(provider, &input).await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Extract => {
            let input = parse_json(request)?;
            respond(
                intents::extract::extract(provider, &input).await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Recommend => {
            let input = parse_json(request)?;
            respond(
                intents::recommend::recommend(provider, &input).await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Score => {
            let input = parse_json(request)?;
            respond(
                intents::score::score(provider, &input).await?,
                request_id,
                started,
                trace,
            )
        }
        Operation::Health => Ok(health(app)),
    }
}

fn health(app: &App) -> Response<Body> {
    let checks = vec![DependencyCheck {
        name: format!("provider:{}", app.provider.name()),
        status: Status::Ok,
        latency_ms: 0,
        detail: None,
    }];
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
    json_response(code, &body)
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
    let envelope = Envelope {
        result: outcome.result,
        meta: Meta {
            request_id: request_id.to_owned(),
            api_version: API_VERSION.to_owned(),
            provider: outcome.provider.to_owned(),
            model: outcome.model,
            usage: outcome.usage,
            latency_ms: started.elapsed().as_millis() as u64,
        },
    };
    Ok(json_response(StatusCode::OK, &envelope))
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
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(err) => {
            let pointer = to_pointer(err.path());
            let inner = err.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => ApiError::Validation(vec![FieldError::new(
                    pointer,
                    "type",
                    strip_position(&inner.to_string()),
                )]),
                _ => ApiError::MalformedJson(inner.to_string()),
            });
        }
    };
    de.end().map_err(|e| {
        ApiError::MalformedJson(format!("unexpected data after the JSON value: {e}"))
    })?;

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

fn check_media_type(request: &Request) -> Result<(), ApiError> {
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

fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b.as_slice(),
        _ => &[],
    }
}

/// The API Gateway request id (what API Gateway logs and returns as `x-amzn-RequestId`), else
/// the Lambda invocation id, else a fresh one.
fn request_id(request: &Request) -> String {
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

fn client_id(request: &Request) -> Option<String> {
    match request.request_context() {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.api_key_id.filter(|s| !s.is_empty()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
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
