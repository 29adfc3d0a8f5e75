//! The jobs routes at the HTTP boundary: the submit's media type, size and `Idempotency-Key`
//! checks, the 202 with `Location` and `Retry-After`, and the job resource in the envelope.
//! Routing, errors and logging stay in [`crate::http`], which calls in here.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::caller::Caller;
use crate::http::{body_bytes, check_media_type, plain_envelope, route_path};
use crate::problem::ApiError;
use crate::store::dynamo::Clients;

/// The jobs function's table, queue and bucket, from `JOBS_TABLE`, `JOB_QUEUE_URL`,
/// `JOB_BUCKET` and `JOB_TTL_DAYS`.
pub(crate) fn jobs_from_env(
    clients: Clients,
    generative: bool,
) -> anyhow::Result<crate::jobs::service::Jobs> {
    use crate::jobs::config::{JobsConfig, SubmitConfig};
    let lookup = |name: &str| std::env::var(name).ok();
    let config = JobsConfig::from_lookup(lookup)?;
    let submit = SubmitConfig::from_lookup(lookup)?;
    Ok(crate::jobs::service::Jobs {
        store: Arc::new(crate::jobs::dynamo::DynamoJobStore::new(
            clients,
            config.table,
        )),
        queue: Arc::new(crate::jobs::queue::SqsJobQueue::new(submit.queue_url)),
        payloads: Arc::new(crate::jobs::payload::S3Payloads::new(config.bucket)),
        ttl_days: config.ttl_days,
        inline_max: crate::jobs::payload::INLINE_MAX_BYTES,
        generative,
    })
}

/// `POST /v1/jobs`: 202 with `Location` and `Retry-After` and the job resource.
pub(crate) async fn submit(
    jobs: &crate::jobs::service::Jobs,
    request: &Request,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    use crate::contract::limits::JOB_MAX_BODY_BYTES;
    use crate::jobs::service::IdempotencyKey;
    check_media_type(request)?;
    let body = body_bytes(request);
    if body.len() > JOB_MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: JOB_MAX_BODY_BYTES,
            actual: body.len(),
        });
    }
    let key = request
        .headers()
        .get("idempotency-key")
        .map(|v| IdempotencyKey::parse(v.as_bytes()))
        .transpose()?;
    let job = jobs
        .submit(body, key.as_ref(), &Caller::of_request(request))
        .await?;
    // Relative to the path the client used, so a stage or base path in it is kept.
    let submitted_path = match request.request_context() {
        RequestContext::ApiGatewayV1(ctx) => ctx.path.filter(|p| p.starts_with('/')),
        #[allow(unreachable_patterns)]
        _ => None,
    }
    .unwrap_or_else(|| route_path(request));
    let location = format!("{}/{}", submitted_path.trim_end_matches('/'), job.id);
    job_response(
        jobs,
        &job,
        StatusCode::ACCEPTED,
        Some(location),
        request_id,
        started,
    )
    .await
}

/// The job resource in the envelope; `Retry-After` while the job is pending.
async fn job_response(
    jobs: &crate::jobs::service::Jobs,
    job: &crate::jobs::Job,
    status: StatusCode,
    location: Option<String>,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    let resource = jobs.resource(job).await?;
    let mut response = plain_envelope(status, resource, request_id, started);
    let headers = response.headers_mut();
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    if !job.status.is_final() {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::jobs::service::retry_after_s(job)),
        );
    }
    Ok(response)
}

/// `GET /v1/jobs/{job_id}`: the job, with `Retry-After` while it is pending.
pub(crate) async fn get(
    jobs: &crate::jobs::service::Jobs,
    id: &str,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    let job = jobs.get(id).await?;
    job_response(jobs, &job, StatusCode::OK, None, request_id, started).await
}
