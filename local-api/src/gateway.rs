//! The HTTP front of the local API: what API Gateway (REST, Lambda proxy integration) does
//! between a client and a function, reproduced closely enough that a response here is the
//! response in AWS.
//!
//! Requests are routed with the shared route table (so a route cannot exist here and not in the
//! functions); paths that match no route go to the fallback function, as `/{proxy+}` does in
//! `template.yaml`. Both `/v1/...` and `/{stage}/v1/...` are served.
//!
//! A function that streams its response (detected per response from the Runtime API's response
//! mode, so no route is marked) is served as a streamed route: status and headers from its
//! metadata prelude at once, then the payload chunk by chunk (see [`crate::streamed`]).
//!
//! When asked to (see [`crate::auth`]), the protected routes check an API key and a bearer
//! token first, as the template's authorizers do.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use shared::routes::{Function, RouteMatch, match_route};
use tokio::net::TcpListener;

use crate::auth::{AuthOutcome, GatewayAuth};
use crate::runtime::{FunctionHost, InvokeOutcome, InvokeResult, fresh_uuid};
use crate::stream::ResponseStream;
use crate::streamed::{self, PreludeError, StreamLimits};

/// The body of a gateway response: a buffered one, or a streamed one that may be cut short.
pub type GatewayBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// API Gateway's payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

pub struct Gateway {
    pub stage: String,
    pub functions: HashMap<Function, Arc<FunctionHost>>,
    /// API key and bearer token checks; `None` serves every route openly.
    pub auth: Option<GatewayAuth>,
}

impl Gateway {
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let gw = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(gw.handle(req, peer).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<GatewayBody> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request too long");
            }
        };
        let full_path = parts.uri.path().to_owned();
        let stage_prefix = format!("/{}", self.stage);
        let resource_path = match full_path.strip_prefix(&stage_prefix) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                if rest.is_empty() {
                    "/".to_owned()
                } else {
                    rest.to_owned()
                }
            }
            _ => full_path.clone(),
        };
        let (function, resource) = match match_route(parts.method.as_str(), &resource_path) {
            RouteMatch::Found { route, .. } => (route.function, route.path.to_owned()),
            _ => (
                Function::ALL
                    .into_iter()
                    .find(|f| f.is_fallback())
                    .unwrap_or(Function::Health),
                "/{proxy+}".to_owned(),
            ),
        };
        let Some(host) = self.functions.get(&function) else {
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
        };
        let mut authorizer = None;
        if let Some(auth) = &self.auth
            && protected(parts.method.as_str(), &resource_path)
        {
            let outcome = auth
                .check(
                    parts.method.as_str(),
                    &resource_path,
                    &full_path,
                    &self.stage,
                    &parts.headers,
                )
                .await;
            match outcome {
                AuthOutcome::Pass(context) => authorizer = context,
                AuthOutcome::Refused(response) => return response,
            }
        }

        let mut event = self.event(&parts, &body, &resource_path, &resource, peer);
        if let Some(context) = authorizer {
            event["requestContext"]["authorizer"] = context;
        }
        let payload = match serde_json::to_vec(&event) {
            Ok(p) => Bytes::from(p),
            Err(_) => {
                return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
            }
        };
        match host.invoke_streaming(payload).await {
            InvokeOutcome::Finished(InvokeResult::Response(bytes)) => translate(&bytes),
            InvokeOutcome::Finished(InvokeResult::Error(e)) if e.contains("Task timed out") => {
                gateway_error(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out")
            }
            InvokeOutcome::Finished(InvokeResult::Error(e)) => {
                eprintln!("local-api: {} failed: {e}", host.name);
                gateway_error(StatusCode::BAD_GATEWAY, "Internal server error")
            }
            InvokeOutcome::Streaming(stream) => {
                stream_response(stream, started, StreamLimits::default(), &host.name).await
            }
        }
    }

    /// An API Gateway REST proxy event (payload format 1.0), as AWS sends it.
    fn event(
        &self,
        parts: &hyper::http::request::Parts,
        body: &Bytes,
        path: &str,
        resource: &str,
        peer: SocketAddr,
    ) -> Value {
        let mut headers = serde_json::Map::new();
        let mut multi: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in &parts.headers {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            // API Gateway keeps the header name as sent; hyper lower-cases, which is equivalent.
            headers.insert(name.as_str().to_owned(), Value::String(v.clone()));
            multi.entry(name.as_str().to_owned()).or_default().push(v);
        }
        let mut query = serde_json::Map::new();
        let mut multi_query: HashMap<String, Vec<String>> = HashMap::new();
        if let Some(q) = parts.uri.query() {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                query.insert(k.to_owned(), Value::String(v.to_owned()));
                multi_query
                    .entry(k.to_owned())
                    .or_default()
                    .push(v.to_owned());
            }
        }
        let path_parameters = if resource == "/{proxy+}" {
            json!({ "proxy": path.trim_start_matches('/') })
        } else {
            let mut params = serde_json::Map::new();
            if let RouteMatch::Found { params: found, .. } =
                match_route(parts.method.as_str(), path)
            {
                for (k, v) in found {
                    params.insert(k.to_owned(), Value::String(v));
                }
            }
            if params.is_empty() {
                Value::Null
            } else {
                Value::Object(params)
            }
        };
        let (body_value, base64) = if body.is_empty() {
            (Value::Null, false)
        } else {
            match std::str::from_utf8(body) {
                Ok(s) => (Value::String(s.to_owned()), false),
                Err(_) => (Value::String(BASE64.encode(body)), true),
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        json!({
            "resource": resource,
            "path": path,
            "httpMethod": parts.method.as_str(),
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
            "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { json!(multi_query) },
            "pathParameters": path_parameters,
            "stageVariables": Value::Null,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": resource,
                "httpMethod": parts.method.as_str(),
                "requestId": fresh_uuid(),
                "path": format!("/{}{}", self.stage, path),
                "stage": self.stage,
                "domainName": "127.0.0.1",
                "apiId": "local",
                "protocol": "HTTP/1.1",
                "requestTimeEpoch": now,
                "identity": {
                    "sourceIp": peer.ip().to_string(),
                    "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()),
                    "apiKeyId": parts.headers.get("x-api-key").map(|_| "local-key"),
                }
            },
            "body": body_value,
            "isBase64Encoded": base64,
        })
    }
}

/// Serves a streamed response as API Gateway does on a `STREAM` route: nothing is sent until the
/// metadata prelude is complete (a bad one is a 502), then the status and headers go out at once
/// and the payload follows chunk by chunk.
pub async fn stream_response(
    mut stream: ResponseStream,
    started: Instant,
    limits: StreamLimits,
    function: &str,
) -> Response<GatewayBody> {
    match streamed::read_prelude(&mut stream, started, limits).await {
        Ok((prelude, first)) => {
            streamed::response(prelude, first, stream, started, limits, function.to_owned())
                .map(|body| body.map_err(Into::into).boxed_unsync())
        }
        Err(PreludeError::TimedOut) => {
            eprintln!("local-api: {function} sent no metadata prelude in time");
            gateway_error(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out")
        }
        Err(PreludeError::Failed(e)) => {
            eprintln!("local-api: {function} failed before its metadata prelude: {e}");
            gateway_error(StatusCode::BAD_GATEWAY, "Internal server error")
        }
        Err(PreludeError::Malformed(why)) => {
            eprintln!("local-api: {function} streamed a malformed response: {why}");
            gateway_error(StatusCode::BAD_GATEWAY, "Internal server error")
        }
    }
}

/// Whether `path` is a protected route (one with a scope): any method of it, as the template's
/// `ANY` events protect every method. Paths of no route (the 404 fallback) are open.
fn protected(method: &str, path: &str) -> bool {
    let route = match match_route(method, path) {
        RouteMatch::Found { route, .. } => Some(route),
        RouteMatch::WrongMethod { allow } => {
            allow.first().and_then(|m| match match_route(m, path) {
                RouteMatch::Found { route, .. } => Some(route),
                _ => None,
            })
        }
        RouteMatch::NotFound => None,
    };
    route.is_some_and(|r| r.operation.scope().is_some())
}

pub(crate) fn full(bytes: Bytes) -> GatewayBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Turns a Lambda proxy response into HTTP, as API Gateway does; a malformed one is a 502.
fn translate(bytes: &[u8]) -> Response<GatewayBody> {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return gateway_error(StatusCode::BAD_GATEWAY, "Internal server error");
    };
    let status = v
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match v.get("body").and_then(Value::as_str) {
        Some(b) if v.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            BASE64.decode(b).unwrap_or_default()
        }
        Some(b) => b.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let mut builder = Response::builder().status(status);
    if let Some(h) = v.get("headers").and_then(Value::as_object) {
        for (k, val) in h {
            if let Some(s) = val.as_str() {
                builder = builder.header(k, s);
            }
        }
    }
    if let Some(h) = v.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, vals) in h {
            if v.get("headers").and_then(|hs| hs.get(k)).is_some() {
                continue;
            }
            for val in vals.as_array().into_iter().flatten() {
                if let Some(s) = val.as_str() {
                    builder = builder.header(k, s);
                }
            }
        }
    }
    builder
        .body(full(Bytes::from(body)))
        .unwrap_or_else(|_| gateway_error(StatusCode::BAD_GATEWAY, "Internal server error"))
}

/// Errors raised by the gateway itself (payload too large, timeout, a crashed function), in the
/// problem+json shape that `template.yaml`'s `GatewayResponses` give them in AWS.
fn gateway_error(status: StatusCode, message: &str) -> Response<GatewayBody> {
    let request_id = fresh_uuid();
    let body = json!({
        "type": "urn:intent-api:problem:gateway",
        "title": message,
        "status": status.as_u16(),
        "detail": message,
        "instance": "",
        "request_id": request_id,
    });
    let mut r = Response::new(full(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/problem+json"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}
