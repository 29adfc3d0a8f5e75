//! The job queue port and its SQS implementation. A message carries only the job id: the table
//! is the source of truth, and messages stay small whatever the input's size.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::store::StoreError;
use crate::store::dynamo::{Budget, classify, configured_sdk};

/// The body of a job message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub job_id: String,
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Sends the job's message; `Ok` once the queue has accepted it.
    async fn send(&self, job_id: &str) -> Result<(), StoreError>;
    async fn check(&self) -> Result<(), StoreError>;
}

/// A submit's send: 3 attempts within 4 s, so a 503 comes well before API Gateway's 29 s.
const SEND: Budget = Budget {
    attempts: 3,
    initial_backoff: std::time::Duration::from_millis(25),
    max_backoff: std::time::Duration::from_millis(400),
    connect: std::time::Duration::from_millis(500),
    attempt: std::time::Duration::from_millis(1500),
    operation: std::time::Duration::from_secs(4),
};

pub struct SqsJobQueue {
    client: tokio::sync::OnceCell<aws_sdk_sqs::Client>,
    queue_url: String,
}

impl SqsJobQueue {
    /// A queue client built on first use (`AWS_ENDPOINT_URL_SQS` points it at a local server).
    pub fn new(queue_url: impl Into<String>) -> SqsJobQueue {
        SqsJobQueue {
            client: tokio::sync::OnceCell::new(),
            queue_url: queue_url.into(),
        }
    }

    async fn client(&self) -> &aws_sdk_sqs::Client {
        self.client
            .get_or_init(|| async {
                let (sdk, retry, timeout) = configured_sdk(&SEND).await;
                aws_sdk_sqs::Client::from_conf(
                    aws_sdk_sqs::config::Builder::from(&sdk)
                        .retry_config(retry)
                        .timeout_config(timeout)
                        .build(),
                )
            })
            .await
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, job_id: &str) -> Result<(), StoreError> {
        let body = serde_json::to_string(&JobMessage {
            job_id: job_id.to_owned(),
        })
        .map_err(|e| StoreError::Unexpected(e.into()))?;
        self.client()
            .await
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| classify(e, "sending the job message"))?;
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client()
            .await
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| classify(e, "reading the job queue"))?;
        Ok(())
    }
}
