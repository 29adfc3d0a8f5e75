//! DynamoDB stores. Clients are built once per execution environment, on first use; the endpoint
//! comes from the standard `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local in local runs and tests),
//! credentials and region from the standard chain.
//!
//! Timeouts and retries are explicit and add up to well below API Gateway's 29 s: feedback
//! writes get 4 attempts of at most 1.5 s within 6 s in all; request log writes get 2 short
//! attempts, and the caller bounds them further with its own time budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_smithy_http_client::tls;
use tokio::sync::OnceCell;

use super::{FeedbackStore, LogItem, PutOutcome, RequestLog, StoreError, StoredFeedback};
use crate::caller::Caller;
use crate::contract::feedback::{Feedback, Rating};

/// The two clients every function needs, configured for their write contracts, built on first
/// use rather than at cold start: loading the SDK configuration and the TLS roots takes a few
/// milliseconds, and most functions first need a client only for the request-log write, which
/// runs after the response (see `after_response`). Clones share one pair of clients.
#[derive(Clone, Default)]
pub struct Clients {
    built: Arc<OnceCell<Built>>,
}

struct Built {
    /// Hard writes and reads (feedback).
    durable: Client,
    /// Soft writes (request log): fail fast rather than hold the environment.
    fast: Client,
}

impl Clients {
    /// Clients from the standard environment (region, credentials, `AWS_ENDPOINT_URL_DYNAMODB`),
    /// built when first asked for.
    pub fn lazy() -> Clients {
        Clients::default()
    }

    /// Clients already built, for tests and tools that point them somewhere themselves.
    pub fn from_clients(durable: Client, fast: Client) -> Clients {
        Clients {
            built: Arc::new(OnceCell::new_with(Some(Built { durable, fast }))),
        }
    }

    /// The client for hard writes and reads.
    pub async fn durable(&self) -> &Client {
        &self.built.get_or_init(build).await.durable
    }

    /// The client for soft writes.
    pub async fn fast(&self) -> &Client {
        &self.built.get_or_init(build).await.fast
    }
}

/// Retries and timeouts of one client; the totals stay well below API Gateway's 29 s.
pub(crate) struct Budget {
    pub(crate) attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) connect: Duration,
    pub(crate) attempt: Duration,
    pub(crate) operation: Duration,
}

/// Feedback: 4 attempts of at most 1.5 s within 6 s, so a throttled write still lands.
const DURABLE: Budget = Budget {
    attempts: 4,
    initial_backoff: Duration::from_millis(25),
    max_backoff: Duration::from_millis(800),
    connect: Duration::from_millis(500),
    attempt: Duration::from_millis(1500),
    operation: Duration::from_secs(6),
};

/// Request log: 2 short attempts within 450 ms; the caller bounds it further with its budget.
const FAST: Budget = Budget {
    attempts: 2,
    initial_backoff: Duration::from_millis(10),
    max_backoff: Duration::from_millis(100),
    connect: Duration::from_millis(200),
    attempt: Duration::from_millis(200),
    operation: Duration::from_millis(450),
};

fn configured(sdk: &aws_config::SdkConfig, budget: &Budget) -> aws_sdk_dynamodb::Config {
    aws_sdk_dynamodb::config::Builder::from(sdk)
        .retry_config(retry_config(budget))
        .timeout_config(timeout_config(budget))
        .build()
}

fn retry_config(budget: &Budget) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(budget.attempts)
        .with_initial_backoff(budget.initial_backoff)
        .with_max_backoff(budget.max_backoff)
}

fn timeout_config(budget: &Budget) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(budget.connect)
        .operation_attempt_timeout(budget.attempt)
        .operation_timeout(budget.operation)
        .build()
}

/// The shared SDK configuration (standard environment, this module's HTTPS client) plus the
/// retry and timeout settings of `budget`, for the other services' clients (SQS, S3).
pub(crate) async fn configured_sdk(
    budget: &Budget,
) -> (aws_config::SdkConfig, RetryConfig, TimeoutConfig) {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    (sdk, retry_config(budget), timeout_config(budget))
}

async fn build() -> Built {
    let started = std::time::Instant::now();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    let durable = configured(&sdk, &DURABLE);
    let fast = configured(&sdk, &FAST);
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros() as u64,
        "DynamoDB clients built"
    );
    Built {
        durable: Client::from_conf(durable),
        fast: Client::from_conf(fast),
    }
}

/// The HTTPS client every SDK client here uses: hyper with rustls on `ring` (see the workspace
/// manifest for why not the SDK's default aws-lc).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Maps an SDK failure (of any AWS service) to the store's two outcomes: retry later, or a bug.
pub(crate) fn classify<E>(err: SdkError<E, HttpResponse>, what: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{what}: {}", aws_display(&err)))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let retryable = matches!(
                code,
                "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "ThrottlingException"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionConflictException"
                    // SQS and S3 spell throttling their own way.
                    | "RequestThrottled"
                    | "AWS.SimpleQueueService.RequestThrottled"
                    | "SlowDown"
            ) || service.raw().status().is_server_error();
            if retryable {
                StoreError::Unavailable(format!("{what}: {code}"))
            } else {
                StoreError::Unexpected(anyhow::anyhow!("{what}: {code}: {}", aws_display(&err)))
            }
        }
        _ => StoreError::Unexpected(anyhow::anyhow!("{what}: {}", aws_display(&err))),
    }
}

fn aws_display<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> String {
    // The SDK's Display is terse ("service error"); the source chain has the useful part.
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The caller's parts as `caller_api_key_id`, `caller_sub` and `caller_client_id`, each only when
/// known. Request log, feedback and job items all write them this way.
pub(crate) fn caller_attributes(caller: &Caller, item: &mut HashMap<String, AttributeValue>) {
    for (name, value) in caller.parts() {
        if let Some(v) = value {
            item.insert(format!("caller_{name}"), s(v));
        }
    }
}

/// The caller of a stored item (see [`caller_attributes`]).
pub(crate) fn caller_of(item: &HashMap<String, AttributeValue>) -> Caller {
    Caller::from_parts(|name| match item.get(&format!("caller_{name}")) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    })
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub struct DynamoRequestLog {
    clients: Clients,
    table: String,
}

impl DynamoRequestLog {
    /// Writes with the fast client of `clients`.
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        DynamoRequestLog {
            clients,
            table: table.into(),
        }
    }
}

/// The request log item's attributes. User text appears only as `input`, and only when the
/// deployment opted in.
pub fn log_attributes(item: &LogItem) -> HashMap<String, AttributeValue> {
    let r = &item.record;
    let mut m = HashMap::from([
        ("request_id".to_owned(), s(&r.request_id)),
        ("route".to_owned(), s(&r.route)),
        ("method".to_owned(), s(&r.method)),
        ("status".to_owned(), n(r.status)),
        ("latency_ms".to_owned(), n(r.latency_ms)),
        ("input_tokens".to_owned(), n(r.usage.input_tokens)),
        ("output_tokens".to_owned(), n(r.usage.output_tokens)),
        ("embedded_texts".to_owned(), n(r.usage.embedded_texts)),
        ("input_bytes".to_owned(), n(r.input_bytes)),
        ("input_sha256".to_owned(), s(&r.input_sha256)),
        ("created_at".to_owned(), s(&item.created_at)),
        ("expires_at".to_owned(), n(item.expires_at)),
    ]);
    let optional = [
        ("provider", &r.provider),
        ("model", &r.model),
        ("error_code", &r.error_code),
        ("stop_reason", &r.stop_reason),
        ("fallback_reason", &r.fallback_reason),
        ("input", &item.input),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            m.insert(k.to_owned(), s(v));
        }
    }
    caller_attributes(&r.caller, &mut m);
    let optional_numbers = [
        ("cache_read_tokens", r.usage.cache_read_tokens),
        ("cache_write_tokens", r.usage.cache_write_tokens),
        ("attempts", r.usage.attempts.map(u64::from)),
        ("embedding_cache_hits", r.usage.embedding_cache_hits),
        ("embedding_cache_misses", r.usage.embedding_cache_misses),
    ];
    for (k, v) in optional_numbers {
        if let Some(v) = v {
            m.insert(k.to_owned(), n(v));
        }
    }
    if let Some(cost) = r.cost_usd {
        // The price table's version travels with the estimate, so old items stay explainable
        // after a price change.
        m.insert("cost_usd".to_owned(), n(cost));
        m.insert(
            "prices_version".to_owned(),
            s(crate::provider::generative::pricing::PRICES_VERSION),
        );
    }
    m
}

#[async_trait]
impl RequestLog for DynamoRequestLog {
    async fn append(&self, item: &LogItem) -> Result<(), StoreError> {
        self.clients
            .fast()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(log_attributes(item)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, "writing the request log"))
    }

    async fn check(&self) -> Result<(), StoreError> {
        describe(self.clients.fast().await, &self.table).await
    }
}

pub(crate) async fn describe(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, "describing the table"))
}

pub struct DynamoFeedbackStore {
    clients: Clients,
    table: String,
}

impl DynamoFeedbackStore {
    /// Reads and writes with the durable client of `clients`.
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        DynamoFeedbackStore {
            clients,
            table: table.into(),
        }
    }
}

fn feedback_attributes(f: &StoredFeedback) -> anyhow::Result<HashMap<String, AttributeValue>> {
    let fb = &f.feedback;
    let mut m = HashMap::from([
        ("request_id".to_owned(), s(&fb.request_id)),
        (
            "rating".to_owned(),
            s(match fb.rating {
                Rating::Positive => "positive",
                Rating::Negative => "negative",
            }),
        ),
        ("created_at".to_owned(), s(&fb.created_at)),
        ("payload_sha256".to_owned(), s(&f.payload_sha256)),
    ]);
    caller_attributes(&f.caller, &mut m);
    if let Some(c) = &fb.comment {
        m.insert("comment".to_owned(), s(c));
    }
    if let Some(v) = &fb.corrected_output {
        // Stored as JSON text: the value is caller-shaped, and DynamoDB's map type would lose
        // the distinction between integers and floats.
        m.insert(
            "corrected_output".to_owned(),
            s(serde_json::to_string(v).context("serialising corrected_output")?),
        );
    }
    Ok(m)
}

fn feedback_from(item: &HashMap<String, AttributeValue>) -> anyhow::Result<StoredFeedback> {
    let text = |k: &str| -> anyhow::Result<Option<String>> {
        match item.get(k) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => anyhow::bail!("attribute {k} is not a string"),
        }
    };
    let required =
        |k: &str| -> anyhow::Result<String> { text(k)?.with_context(|| format!("missing {k}")) };
    let rating = match required("rating")?.as_str() {
        "positive" => Rating::Positive,
        "negative" => Rating::Negative,
        other => anyhow::bail!("unknown rating {other}"),
    };
    let corrected_output = text("corrected_output")?
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .context("corrected_output is not JSON")?;
    Ok(StoredFeedback {
        feedback: Feedback {
            request_id: required("request_id")?,
            rating,
            comment: text("comment")?,
            corrected_output,
            created_at: required("created_at")?,
        },
        payload_sha256: required("payload_sha256")?,
        caller: caller_of(item),
    })
}

#[async_trait]
impl FeedbackStore for DynamoFeedbackStore {
    async fn put_feedback(&self, feedback: &StoredFeedback) -> Result<PutOutcome, StoreError> {
        let result = self
            .clients
            .durable()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(feedback_attributes(feedback)?))
            // The write happens at most once per request id; a retry whose first attempt did
            // commit (its response was lost) lands here and is recognised by the payload hash.
            .condition_expression("attribute_not_exists(request_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Created),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let existing = match service.err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item().cloned(),
                    _ => None,
                };
                let existing = match existing {
                    Some(item) => feedback_from(&item)?,
                    // DynamoDB Local and old API versions may omit ALL_OLD: read it back.
                    None => self
                        .get_feedback(&feedback.feedback.request_id)
                        .await?
                        .context("conditional check failed but the item is missing")?,
                };
                if existing.payload_sha256 == feedback.payload_sha256 {
                    Ok(PutOutcome::AlreadyStored(existing))
                } else {
                    Ok(PutOutcome::Conflict(existing))
                }
            }
            Err(e) => Err(classify(e, "storing feedback")),
        }
    }

    async fn get_feedback(&self, request_id: &str) -> Result<Option<StoredFeedback>, StoreError> {
        let out = self
            .clients
            .durable()
            .await
            .get_item()
            .table_name(&self.table)
            .key("request_id", s(request_id))
            // Read-your-writes: a GET right after the POST must see it.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, "reading feedback"))?;
        out.item()
            .map(feedback_from)
            .transpose()
            .map_err(StoreError::from)
    }

    async fn check(&self) -> Result<(), StoreError> {
        describe(self.clients.durable().await, &self.table).await
    }
}
