//! The one error type of the HTTP boundary, [`ApiError`], and its RFC 9457 `problem+json` form.
//!
//! Client errors carry a precise, safe `detail`. Server-side failures are opaque: the client sees
//! a generic sentence and the request id, while the full cause chain goes to the log. This is the
//! only place where an error becomes a response.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};

use crate::contract::FieldError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: Vec<&'static str>,
    },
    #[error("the request body is {actual} bytes; the limit is {limit} bytes")]
    PayloadTooLarge { limit: usize, actual: usize },
    /// The input would cost the model more tokens than the deployment allows per request
    /// (`MAX_INPUT_TOKENS`); no model was called.
    #[error(
        "the input is estimated at {estimated} tokens, above this API's limit of {limit} input \
         tokens per request; send a shorter text or fewer documents or items"
    )]
    InputTooLarge { estimated: u64, limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request is not valid ({} error(s))", .0.len())]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests")]
    Throttled { retry_after_s: u64 },
    #[error("the model returned an unusable answer: {0}")]
    ProviderOutput(String),
    #[error("the model's answer was cut off by its output token limit: {0}")]
    ProviderTruncated(String),
    #[error("the model declined to answer: {0}")]
    ProviderRefused(String),
    #[error("{dependency} is unavailable")]
    Unavailable {
        dependency: &'static str,
        retry_after_s: u64,
    },
    #[error("the model did not answer in time")]
    ProviderTimeout,
    /// A request header has a value the API cannot use.
    #[error("the {name} header {message}")]
    InvalidHeader { name: &'static str, message: String },
    /// An `Idempotency-Key` sent again with a different body (IETF idempotency-key draft: 422).
    #[error(
        "this Idempotency-Key was already used with a different request body; use a new key for \
         a new request"
    )]
    IdempotencyKeyReused,
    #[error("no job {0}: it never existed or has expired")]
    JobNotFound(String),
    /// A background job that could not be completed (it is `failed` with this error).
    #[error("{0}")]
    JobAbandoned(String),
    /// Anything unexpected. Its chain is logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// RFC 9457 problem details, plus the request id and field errors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// Stable URI identifying the kind of problem, e.g. `urn:intent-api:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request path the problem occurred on.
    pub instance: String,
    pub request_id: String,
    /// Present on 422: one entry per invalid value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } | ApiError::InputTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ProviderOutput(_)
            | ApiError::ProviderTruncated(_)
            | ApiError::ProviderRefused(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ProviderTimeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::InvalidHeader { .. } => StatusCode::BAD_REQUEST,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::JobNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::JobAbandoned(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Short machine-readable code, used in the problem `type`, the logs and the request log.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed-json",
            ApiError::NotFound { .. } => "not-found",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::InputTooLarge { .. } => "input-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Validation(_) => "validation",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::Throttled { .. } => "throttled",
            ApiError::ProviderOutput(_) => "provider-output",
            ApiError::ProviderTruncated(_) => "provider-truncated",
            ApiError::ProviderRefused(_) => "provider-refused",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::ProviderTimeout => "provider-timeout",
            ApiError::InvalidHeader { .. } => "invalid-header",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::JobNotFound(_) => "job-not-found",
            ApiError::JobAbandoned(_) => "job-abandoned",
            ApiError::Unexpected(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "Malformed JSON",
            ApiError::NotFound { .. } => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::InputTooLarge { .. } => "Input too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Validation(_) => "Validation failed",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::Conflict(_) => "Conflict",
            ApiError::Throttled { .. } => "Too many requests",
            ApiError::ProviderOutput(_) => "Unusable model output",
            ApiError::ProviderTruncated(_) => "Model output truncated",
            ApiError::ProviderRefused(_) => "Model refused",
            ApiError::Unavailable { .. } => "Service unavailable",
            ApiError::ProviderTimeout => "Model timeout",
            ApiError::InvalidHeader { .. } => "Invalid header",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::JobNotFound(_) => "Job not found",
            ApiError::JobAbandoned(_) => "Job not completed",
            ApiError::Unexpected(_) => "Internal server error",
        }
    }

    /// What the client may read. Server-side failures say nothing about their cause.
    fn public_detail(&self) -> String {
        match self {
            ApiError::Unexpected(_) => {
                "An unexpected error occurred. Quote the request id when reporting it.".to_owned()
            }
            ApiError::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", display_pointer(&one.pointer), one.message),
                _ => format!(
                    "{} values are invalid; see `errors` for each one.",
                    errors.len()
                ),
            },
            ApiError::Unavailable { dependency, .. } => format!(
                "{dependency} is temporarily unavailable; nothing was changed. Retry after the \
                 number of seconds in the Retry-After header."
            ),
            ApiError::Throttled { .. } => {
                "Too many requests; retry after the number of seconds in the Retry-After header."
                    .to_owned()
            }
            other => other.to_string(),
        }
    }

    pub fn to_problem(&self, instance: &str, request_id: &str) -> Problem {
        Problem {
            kind: format!("urn:intent-api:problem:{}", self.code()),
            title: self.title().to_owned(),
            status: self.status().as_u16(),
            detail: self.public_detail(),
            instance: instance.to_owned(),
            request_id: request_id.to_owned(),
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        }
    }

    /// The one conversion from an error to an HTTP response.
    pub fn into_response(self, instance: &str, request_id: &str) -> Response<Body> {
        let problem = self.to_problem(instance, request_id);
        let body = serde_json::to_string(&problem).unwrap_or_else(|_| {
            // Serialising plain strings and numbers cannot fail; keep a valid body regardless.
            format!(
                r#"{{"status":{},"request_id":"{request_id}"}}"#,
                problem.status
            )
        });
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, v);
                }
            }
            ApiError::Throttled { retry_after_s } | ApiError::Unavailable { retry_after_s, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            _ => {}
        }
        response
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "body" } else { pointer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_errors_are_opaque() {
        let err = ApiError::Unexpected(anyhow::anyhow!("dynamodb: AccessDenied arn:aws:secret"));
        let p = err.to_problem("/v1/score", "req-1");
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("dynamodb"));
        assert!(!p.detail.contains("arn:"));
        assert_eq!(p.request_id, "req-1");
    }

    #[test]
    fn method_not_allowed_sets_allow() {
        let err = ApiError::MethodNotAllowed {
            method: "GET".into(),
            path: "/v1/score".into(),
            allow: vec!["POST"],
        };
        let resp = err.into_response("/v1/score", "r");
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "POST");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn unavailable_sets_retry_after() {
        let err = ApiError::Unavailable {
            dependency: "feedback storage",
            retry_after_s: 2,
        };
        let resp = err.into_response("/v1/feedback", "r");
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
    }
}
