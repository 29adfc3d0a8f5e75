//! What Lambda's SQS event source mapping does, for the job worker: long-polls a queue, hands
//! each batch to the worker as an SQS event, deletes the messages the worker did not report as
//! batch item failures, and leaves the others to reappear after the queue's visibility timeout.
//! The queue server itself (moto locally) counts receives and moves a message to the
//! dead-letter queue after `maxReceiveCount`, as SQS does.
//!
//! A worker that fails the whole invocation (an error, a crash, a timeout) leaves the whole
//! batch undeleted, as Lambda does.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::runtime::{FunctionHost, InvokeResult};

/// One event source: a queue and the function it feeds.
pub struct EventSource {
    pub queue_url: String,
    pub queue_arn: String,
    /// Records per invocation (the template's `BatchSize`).
    pub batch_size: i32,
    pub region: String,
}

/// A client for the local queue server (`AWS_ENDPOINT_URL_SQS`).
pub async fn client() -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::store::dynamo::https_client())
        .load()
        .await;
    Client::new(&config)
}

impl EventSource {
    /// Polls until the process ends. Errors of the queue server are logged and retried.
    pub async fn run(self, client: Client, worker: Arc<FunctionHost>) {
        loop {
            if let Err(e) = self.poll_once(&client, &worker).await {
                eprintln!("sqs event source {}: {e:#}", self.queue_arn);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn poll_once(&self, client: &Client, worker: &FunctionHost) -> anyhow::Result<()> {
        let received = client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .context("receiving messages")?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(());
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        let event = serde_json::to_vec(&json!({ "Records": records }))?;
        let failed: Vec<String> = match worker.invoke(Bytes::from(event)).await {
            InvokeResult::Response(body) => {
                let response: Value =
                    serde_json::from_slice(&body).context("the worker's response is not JSON")?;
                response["batchItemFailures"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            InvokeResult::Error(e) => {
                eprintln!("job worker invocation failed ({e}); the whole batch is retried");
                return Ok(());
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty() {
            client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("deleting handled messages")?;
        }
        Ok(())
    }
}
