//! In-memory stores with the same semantics as DynamoDB's conditional writes. For tests only:
//! nothing here survives the process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{FeedbackStore, LogItem, PutOutcome, RequestLog, StoreError, StoredFeedback};

#[derive(Default)]
pub struct MemoryRequestLog {
    pub items: Mutex<Vec<LogItem>>,
}

#[async_trait]
impl RequestLog for MemoryRequestLog {
    async fn append(&self, item: &LogItem) -> Result<(), StoreError> {
        self.items
            .lock()
            .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("request log lock poisoned")))?
            .push(item.clone());
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryFeedbackStore {
    items: Mutex<HashMap<String, StoredFeedback>>,
}

#[async_trait]
impl FeedbackStore for MemoryFeedbackStore {
    async fn put_feedback(&self, feedback: &StoredFeedback) -> Result<PutOutcome, StoreError> {
        let mut items = self
            .items
            .lock()
            .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("feedback lock poisoned")))?;
        match items.get(&feedback.feedback.request_id) {
            Some(existing) if existing.payload_sha256 == feedback.payload_sha256 => {
                Ok(PutOutcome::AlreadyStored(existing.clone()))
            }
            Some(existing) => Ok(PutOutcome::Conflict(existing.clone())),
            None => {
                items.insert(feedback.feedback.request_id.clone(), feedback.clone());
                Ok(PutOutcome::Created)
            }
        }
    }

    async fn get_feedback(&self, request_id: &str) -> Result<Option<StoredFeedback>, StoreError> {
        Ok(self
            .items
            .lock()
            .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("feedback lock poisoned")))?
            .get(request_id)
            .cloned())
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
