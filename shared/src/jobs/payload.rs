//! Payloads too large for a DynamoDB item (400 KB) live in the jobs bucket; the item holds the
//! object key. The bucket's lifecycle rule expires objects with the jobs' TTL.

use async_trait::async_trait;

use super::store::StoreError;
use super::{Job, Payload};
use crate::store::dynamo::{Budget, classify, configured_sdk};

/// Largest payload kept inline in the item. A job item holds at most two (input and result) plus
/// small attributes, which stays below DynamoDB's 400 KB item limit.
pub const INLINE_MAX_BYTES: usize = 150 * 1024;

#[async_trait]
pub trait PayloadStore: Send + Sync {
    async fn put(&self, key: &str, body: &str) -> Result<(), StoreError>;
    /// `None` when the object is gone (expired).
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
}

/// Object key of a job's input.
pub fn input_key(job_id: &str) -> String {
    format!("jobs/{job_id}/input.json")
}

/// Object key of one attempt's result. Per attempt, so that an attempt that lost its lease can
/// never overwrite the object the winning attempt's item points at.
pub fn result_key(job_id: &str, attempt: u32) -> String {
    format!("jobs/{job_id}/result-{attempt}.json")
}

/// Keeps `body` inline when small enough, else writes it to `key` and points at it.
pub async fn offload(
    payloads: &dyn PayloadStore,
    inline_max: usize,
    key: String,
    body: String,
) -> Result<Payload, StoreError> {
    if body.len() <= inline_max {
        return Ok(Payload::Inline(body));
    }
    payloads.put(&key, &body).await?;
    Ok(Payload::Stored(key))
}

/// The payload's text, from the item or the bucket.
pub async fn load(payloads: &dyn PayloadStore, payload: &Payload) -> Result<String, StoreError> {
    match payload {
        Payload::Inline(text) => Ok(text.clone()),
        Payload::Stored(key) => payloads.get(key).await?.ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!("payload object {key} is missing"))
        }),
    }
}

/// The job's input text.
pub async fn input_of(payloads: &dyn PayloadStore, job: &Job) -> Result<String, StoreError> {
    load(payloads, &job.input).await
}

/// Large payloads: 3 attempts within 30 s (the worker has minutes; a submit of a 5 MB body takes
/// well under a second to write).
const TRANSFER: Budget = Budget {
    attempts: 3,
    initial_backoff: std::time::Duration::from_millis(50),
    max_backoff: std::time::Duration::from_millis(1000),
    connect: std::time::Duration::from_millis(1000),
    attempt: std::time::Duration::from_secs(10),
    operation: std::time::Duration::from_secs(30),
};

pub struct S3Payloads {
    client: tokio::sync::OnceCell<aws_sdk_s3::Client>,
    bucket: String,
}

impl S3Payloads {
    pub fn new(bucket: impl Into<String>) -> S3Payloads {
        S3Payloads {
            client: tokio::sync::OnceCell::new(),
            bucket: bucket.into(),
        }
    }

    async fn client(&self) -> &aws_sdk_s3::Client {
        self.client
            .get_or_init(|| async {
                let (sdk, retry, timeout) = configured_sdk(&TRANSFER).await;
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&sdk)
                        .retry_config(retry)
                        .timeout_config(timeout)
                        // Local S3 servers answer on one host name; AWS takes both styles.
                        .force_path_style(std::env::var_os("AWS_ENDPOINT_URL_S3").is_some())
                        .build(),
                )
            })
            .await
    }
}

#[async_trait]
impl PayloadStore for S3Payloads {
    async fn put(&self, key: &str, body: &str) -> Result<(), StoreError> {
        self.client()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(
                body.as_bytes().to_vec(),
            ))
            .send()
            .await
            .map_err(|e| classify(e, "writing a job payload"))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let result = self
            .client()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let object = match result {
            Ok(object) => object,
            Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if e.err().is_no_such_key() => {
                return Ok(None);
            }
            Err(e) => return Err(classify(e, "reading a job payload")),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading a job payload: {e}")))?
            .into_bytes();
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("job payload {key}: {e}")))
    }
}
