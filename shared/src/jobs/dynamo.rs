//! The jobs table on DynamoDB. One table holds two kinds of items, keyed by `id`: jobs (`id` is
//! the job id) and idempotency keys (`id` is `key#` + sha256 of the client and the key). Both
//! carry `expires_at` for TTL; TTL deletion is lazy, so reads and conditions also compare it.
//!
//! Every write is conditional (see [`JobStore`] for the rules); a failed condition returns the
//! item as it was (`ALL_OLD`) so the outcome is decided without a second read, except where
//! DynamoDB Local leaves it out.

use std::collections::HashMap;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::store::{Created, Finish, JobStore, KeyClaim, KeyRecord, Start, StoreError};
use super::{Job, Payload};
use crate::contract::jobs::{JobIntent, JobStatus};
use crate::store::dynamo::{Clients, caller_attributes, caller_of, classify, describe, n, s};

type Item = HashMap<String, AttributeValue>;

pub struct DynamoJobStore {
    clients: Clients,
    table: String,
}

impl DynamoJobStore {
    /// Reads and writes with the durable client of `clients` (4 attempts within 6 s).
    pub fn new(clients: Clients, table: impl Into<String>) -> DynamoJobStore {
        DynamoJobStore {
            clients,
            table: table.into(),
        }
    }

    async fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.clients.durable().await
    }

    /// A conditional update of job `id`: `true` when applied, `false` when the condition failed.
    async fn update(
        &self,
        id: &str,
        what: &str,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(expression)
            .condition_expression(condition);
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(classify(e, what)),
        }
    }
}

fn status(v: JobStatus) -> AttributeValue {
    s(v.as_str())
}

fn job_item(job: &Job) -> Item {
    let mut m = HashMap::from([
        ("id".to_owned(), s(&job.id)),
        ("kind".to_owned(), s("job")),
        ("intent".to_owned(), s(job.intent.as_str())),
        ("status".to_owned(), status(job.status)),
        ("created_at_ms".to_owned(), n(job.created_at_ms)),
        ("updated_at_ms".to_owned(), n(job.updated_at_ms)),
        ("attempts".to_owned(), n(job.attempts)),
        ("lease_until_ms".to_owned(), n(job.lease_until_ms)),
        ("send_lease_until_ms".to_owned(), n(job.send_lease_until_ms)),
        ("enqueued".to_owned(), AttributeValue::Bool(job.enqueued)),
        ("expires_at".to_owned(), n(job.expires_at)),
        ("request_sha256".to_owned(), s(&job.request_sha256)),
    ]);
    let (name, value) = payload_attribute("input", &job.input);
    m.insert(name, value);
    if let Some(result) = &job.result {
        let (name, value) = payload_attribute("result", result);
        m.insert(name, value);
    }
    for (name, value) in [
        ("started_at_ms", job.started_at_ms),
        ("finished_at_ms", job.finished_at_ms),
    ] {
        if let Some(v) = value {
            m.insert(name.to_owned(), n(v));
        }
    }
    for (name, value) in [("error", &job.error), ("last_error", &job.last_error)] {
        if let Some(v) = value {
            m.insert(name.to_owned(), s(v));
        }
    }
    caller_attributes(&job.caller, &mut m);
    m
}

/// `input` / `result` hold inline JSON text; `input_ref` / `result_ref` an object key.
fn payload_attribute(name: &str, payload: &Payload) -> (String, AttributeValue) {
    match payload {
        Payload::Inline(text) => (name.to_owned(), s(text)),
        Payload::Stored(key) => (format!("{name}_ref"), s(key)),
    }
}

fn job_from(item: &Item) -> anyhow::Result<Job> {
    let text = |k: &str| -> anyhow::Result<Option<String>> {
        match item.get(k) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => anyhow::bail!("attribute {k} is not a string"),
        }
    };
    let number = |k: &str| -> anyhow::Result<Option<i64>> {
        match item.get(k) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => {
                Ok(Some(v.parse().with_context(|| {
                    format!("attribute {k} is not an integer")
                })?))
            }
            Some(_) => anyhow::bail!("attribute {k} is not a number"),
        }
    };
    let required_text =
        |k: &str| -> anyhow::Result<String> { text(k)?.with_context(|| format!("missing {k}")) };
    let required_number =
        |k: &str| -> anyhow::Result<i64> { number(k)?.with_context(|| format!("missing {k}")) };
    let payload = |name: &str| -> anyhow::Result<Option<Payload>> {
        Ok(match (text(name)?, text(&format!("{name}_ref"))?) {
            (Some(inline), _) => Some(Payload::Inline(inline)),
            (None, Some(key)) => Some(Payload::Stored(key)),
            (None, None) => None,
        })
    };
    let intent = required_text("intent")?;
    let state = required_text("status")?;
    Ok(Job {
        id: required_text("id")?,
        intent: JobIntent::parse(&intent).with_context(|| format!("unknown intent {intent}"))?,
        status: JobStatus::parse(&state).with_context(|| format!("unknown status {state}"))?,
        created_at_ms: required_number("created_at_ms")?,
        updated_at_ms: required_number("updated_at_ms")?,
        started_at_ms: number("started_at_ms")?,
        finished_at_ms: number("finished_at_ms")?,
        attempts: u32::try_from(required_number("attempts")?).context("attempts")?,
        lease_until_ms: number("lease_until_ms")?.unwrap_or(0),
        send_lease_until_ms: number("send_lease_until_ms")?.unwrap_or(0),
        enqueued: matches!(item.get("enqueued"), Some(AttributeValue::Bool(true))),
        expires_at: required_number("expires_at")?,
        input: payload("input")?.context("missing input")?,
        request_sha256: required_text("request_sha256")?,
        result: payload("result")?,
        error: text("error")?,
        last_error: text("last_error")?,
        caller: caller_of(item),
    })
}

fn key_from(item: &Item) -> anyhow::Result<KeyRecord> {
    let text = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => anyhow::bail!("idempotency item without {k}"),
    };
    let expires_at = match item.get("expires_at") {
        Some(AttributeValue::N(v)) => v.parse().context("expires_at")?,
        _ => anyhow::bail!("idempotency item without expires_at"),
    };
    Ok(KeyRecord {
        key_sha256: text("id")?
            .strip_prefix("key#")
            .context("idempotency item id")?
            .to_owned(),
        job_id: text("job_id")?,
        request_sha256: text("request_sha256")?,
        expires_at,
    })
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn claim_key(&self, record: &KeyRecord, now_ms: i64) -> Result<KeyClaim, StoreError> {
        let id = format!("key#{}", record.key_sha256);
        let item = HashMap::from([
            ("id".to_owned(), s(&id)),
            ("kind".to_owned(), s("idempotency_key")),
            ("job_id".to_owned(), s(&record.job_id)),
            ("request_sha256".to_owned(), s(&record.request_sha256)),
            ("expires_at".to_owned(), n(record.expires_at)),
        ]);
        let result = self
            .client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // An expired key that TTL has not deleted yet is free again.
            .condition_expression("attribute_not_exists(id) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now_ms / 1000))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(KeyClaim::Claimed),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let old = match e.err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                let old = match old {
                    Some(item) => item,
                    None => self
                        .client()
                        .await
                        .get_item()
                        .table_name(&self.table)
                        .key("id", s(&id))
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(|e| classify(e, "reading an idempotency key"))?
                        .item
                        .context("idempotency key condition failed but the item is missing")?,
                };
                Ok(KeyClaim::Existing(key_from(&old)?))
            }
            Err(e) => Err(classify(e, "claiming an idempotency key")),
        }
    }

    async fn create(&self, job: &Job) -> Result<Created, StoreError> {
        let result = self
            .client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)))
            .condition_expression("attribute_not_exists(id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::Created),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let existing = self
                    .get(&job.id, 0)
                    .await?
                    .context("job condition failed but the item is missing")?;
                Ok(Created::Exists(Box::new(existing)))
            }
            Err(e) => Err(classify(e, "writing a job")),
        }
    }

    async fn get(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        let out = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            // Read-your-writes: a poll right after the submit must see the job.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, "reading a job"))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let job = job_from(item)?;
        Ok((job.expires_at * 1000 > now_ms).then_some(job))
    }

    async fn claim_send(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError> {
        self.update(
            id,
            "claiming a job's send",
            "SET send_lease_until_ms = :until",
            "#s = :queued AND enqueued = :false AND send_lease_until_ms < :now",
            &[("#s", "status")],
            vec![
                (":until", n(until_ms)),
                (":queued", status(JobStatus::Queued)),
                (":false", AttributeValue::Bool(false)),
                (":now", n(now_ms)),
            ],
        )
        .await
    }

    async fn mark_enqueued(&self, id: &str) -> Result<(), StoreError> {
        self.update(
            id,
            "marking a job enqueued",
            "SET enqueued = :true",
            "attribute_exists(id)",
            &[],
            vec![(":true", AttributeValue::Bool(true))],
        )
        .await
        .map(|_| ())
    }

    async fn release_send(&self, id: &str) -> Result<(), StoreError> {
        self.update(
            id,
            "releasing a job's send",
            "SET send_lease_until_ms = :zero",
            "enqueued = :false",
            &[],
            vec![(":zero", n(0)), (":false", AttributeValue::Bool(false))],
        )
        .await
        .map(|_| ())
    }

    async fn start(&self, id: &str, now_ms: i64, lease_until_ms: i64) -> Result<Start, StoreError> {
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(
                "SET #s = :running, attempts = attempts + :one, lease_until_ms = :lease, \
                 updated_at_ms = :now, started_at_ms = if_not_exists(started_at_ms, :now)",
            )
            .condition_expression(
                "attribute_exists(id) AND expires_at > :now_s AND \
                 (#s = :queued OR (#s = :running AND lease_until_ms < :now))",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":running", status(JobStatus::Running))
            .expression_attribute_values(":queued", status(JobStatus::Queued))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":lease", n(lease_until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":now_s", n(now_ms / 1000))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.context("start returned no attributes")?;
                Ok(Start::Started(job_from(&item)?))
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                // Why it failed decides what the message does; a fresh read says why.
                Ok(match self.get(id, now_ms).await? {
                    None => Start::Missing,
                    Some(job) if job.status.is_final() => Start::Finished(job),
                    Some(job) => Start::Leased {
                        until_ms: job.lease_until_ms,
                    },
                })
            }
            Err(e) => Err(classify(e, "starting a job")),
        }
    }

    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Finish,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (final_status, (name, value)) = match outcome {
            Finish::Succeeded(result) => {
                (JobStatus::Succeeded, payload_attribute("result", result))
            }
            Finish::Failed(problem) => (JobStatus::Failed, ("error".to_owned(), s(problem))),
        };
        let expression = String::from(
            "SET #s = :final, #o = :outcome, finished_at_ms = :now, updated_at_ms = :now, \
             lease_until_ms = :zero",
        );
        self.update(
            id,
            "finishing a job",
            &expression,
            "#s = :running AND attempts = :attempt",
            &[("#s", "status"), ("#o", &name)],
            vec![
                (":final", status(final_status)),
                (":outcome", value),
                (":now", n(now_ms)),
                (":zero", n(0)),
                (":running", status(JobStatus::Running)),
                (":attempt", n(attempt)),
            ],
        )
        .await
    }

    async fn release(
        &self,
        id: &str,
        attempt: u32,
        last_error: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.update(
            id,
            "releasing a job",
            "SET #s = :queued, last_error = :error, updated_at_ms = :now, lease_until_ms = :zero",
            "#s = :running AND attempts = :attempt",
            &[("#s", "status")],
            vec![
                (":queued", status(JobStatus::Queued)),
                (":error", s(last_error)),
                (":now", n(now_ms)),
                (":zero", n(0)),
                (":running", status(JobStatus::Running)),
                (":attempt", n(attempt)),
            ],
        )
        .await
    }

    async fn fail_unfinished(
        &self,
        id: &str,
        problem: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.update(
            id,
            "failing a job",
            "SET #s = :failed, #e = :problem, finished_at_ms = :now, updated_at_ms = :now, \
             lease_until_ms = :zero",
            "#s IN (:queued, :running)",
            &[("#s", "status"), ("#e", "error")],
            vec![
                (":failed", status(JobStatus::Failed)),
                (":problem", s(problem)),
                (":now", n(now_ms)),
                (":zero", n(0)),
                (":queued", status(JobStatus::Queued)),
                (":running", status(JobStatus::Running)),
            ],
        )
        .await
    }

    async fn check(&self) -> Result<(), StoreError> {
        describe(self.client().await, &self.table).await
    }
}
