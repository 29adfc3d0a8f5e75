//! In-memory jobs table, queue and payload bucket with the same conditional semantics as the real
//! ones. For unit and handler tests only: nothing here survives the process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::Job;
use super::payload::PayloadStore;
use super::queue::JobQueue;
use super::store::{Created, Finish, JobStore, KeyClaim, KeyRecord, Start, StoreError};
use crate::contract::jobs::JobStatus;

fn poisoned() -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("in-memory jobs lock poisoned"))
}

#[derive(Default)]
pub struct MemoryJobStore {
    jobs: Mutex<HashMap<String, Job>>,
    keys: Mutex<HashMap<String, KeyRecord>>,
}

impl MemoryJobStore {
    /// Applies `change` to the job when `condition` holds; `None` when the job is missing.
    fn update(
        &self,
        id: &str,
        condition: impl FnOnce(&Job) -> bool,
        change: impl FnOnce(&mut Job),
    ) -> Result<Option<bool>, StoreError> {
        let mut jobs = self.jobs.lock().map_err(|_| poisoned())?;
        let Some(job) = jobs.get_mut(id) else {
            return Ok(None);
        };
        if !condition(job) {
            return Ok(Some(false));
        }
        change(job);
        Ok(Some(true))
    }

    /// Every stored job (tests inspect them).
    pub fn jobs(&self) -> Vec<Job> {
        self.jobs
            .lock()
            .map(|j| j.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl JobStore for MemoryJobStore {
    async fn claim_key(&self, record: &KeyRecord, now_ms: i64) -> Result<KeyClaim, StoreError> {
        let mut keys = self.keys.lock().map_err(|_| poisoned())?;
        match keys.get(&record.key_sha256) {
            Some(existing) if existing.expires_at * 1000 > now_ms => {
                Ok(KeyClaim::Existing(existing.clone()))
            }
            _ => {
                keys.insert(record.key_sha256.clone(), record.clone());
                Ok(KeyClaim::Claimed)
            }
        }
    }

    async fn create(&self, job: &Job) -> Result<Created, StoreError> {
        let mut jobs = self.jobs.lock().map_err(|_| poisoned())?;
        if let Some(existing) = jobs.get(&job.id) {
            return Ok(Created::Exists(Box::new(existing.clone())));
        }
        jobs.insert(job.id.clone(), job.clone());
        Ok(Created::Created)
    }

    async fn get(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        let jobs = self.jobs.lock().map_err(|_| poisoned())?;
        Ok(jobs
            .get(id)
            .filter(|j| j.expires_at * 1000 > now_ms)
            .cloned())
    }

    async fn claim_send(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError> {
        Ok(self
            .update(
                id,
                |j| j.status == JobStatus::Queued && !j.enqueued && j.send_lease_until_ms < now_ms,
                |j| j.send_lease_until_ms = until_ms,
            )?
            .unwrap_or(false))
    }

    async fn mark_enqueued(&self, id: &str) -> Result<(), StoreError> {
        self.update(id, |_| true, |j| j.enqueued = true)?;
        Ok(())
    }

    async fn release_send(&self, id: &str) -> Result<(), StoreError> {
        self.update(id, |j| !j.enqueued, |j| j.send_lease_until_ms = 0)?;
        Ok(())
    }

    async fn start(&self, id: &str, now_ms: i64, lease_until_ms: i64) -> Result<Start, StoreError> {
        let mut jobs = self.jobs.lock().map_err(|_| poisoned())?;
        let Some(job) = jobs.get_mut(id).filter(|j| j.expires_at * 1000 > now_ms) else {
            return Ok(Start::Missing);
        };
        match job.status {
            JobStatus::Succeeded | JobStatus::Failed => Ok(Start::Finished(job.clone())),
            JobStatus::Running if job.lease_until_ms >= now_ms => Ok(Start::Leased {
                until_ms: job.lease_until_ms,
            }),
            JobStatus::Queued | JobStatus::Running => {
                job.status = JobStatus::Running;
                job.attempts += 1;
                job.lease_until_ms = lease_until_ms;
                job.updated_at_ms = now_ms;
                job.started_at_ms.get_or_insert(now_ms);
                Ok(Start::Started(job.clone()))
            }
        }
    }

    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Finish,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .update(
                id,
                |j| j.status == JobStatus::Running && j.attempts == attempt,
                |j| {
                    match outcome {
                        Finish::Succeeded(result) => {
                            j.status = JobStatus::Succeeded;
                            j.result = Some(result.clone());
                        }
                        Finish::Failed(problem) => {
                            j.status = JobStatus::Failed;
                            j.error = Some(problem.clone());
                        }
                    }
                    j.lease_until_ms = 0;
                    j.finished_at_ms = Some(now_ms);
                    j.updated_at_ms = now_ms;
                },
            )?
            .unwrap_or(false))
    }

    async fn release(
        &self,
        id: &str,
        attempt: u32,
        last_error: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .update(
                id,
                |j| j.status == JobStatus::Running && j.attempts == attempt,
                |j| {
                    j.status = JobStatus::Queued;
                    j.lease_until_ms = 0;
                    j.last_error = Some(last_error.to_owned());
                    j.updated_at_ms = now_ms;
                },
            )?
            .unwrap_or(false))
    }

    async fn fail_unfinished(
        &self,
        id: &str,
        problem: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .update(
                id,
                |j| !j.status.is_final(),
                |j| {
                    j.status = JobStatus::Failed;
                    j.error = Some(problem.to_owned());
                    j.lease_until_ms = 0;
                    j.finished_at_ms = Some(now_ms);
                    j.updated_at_ms = now_ms;
                },
            )?
            .unwrap_or(false))
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A queue that keeps what was sent, in order; `fail_sends` makes sends fail (tests of the
/// submit's crash windows).
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: Mutex<VecDeque<String>>,
    pub fail_sends: std::sync::atomic::AtomicBool,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<String> {
        self.sent
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send(&self, job_id: &str) -> Result<(), StoreError> {
        if self.fail_sends.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("queue unavailable (test)".into()));
        }
        self.sent
            .lock()
            .map_err(|_| poisoned())?
            .push_back(job_id.to_owned());
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A bucket in memory.
#[derive(Default)]
pub struct MemoryPayloads {
    pub objects: Mutex<HashMap<String, String>>,
}

#[async_trait]
impl PayloadStore for MemoryPayloads {
    async fn put(&self, key: &str, body: &str) -> Result<(), StoreError> {
        self.objects
            .lock()
            .map_err(|_| poisoned())?
            .insert(key.to_owned(), body.to_owned());
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .objects
            .lock()
            .map_err(|_| poisoned())?
            .get(key)
            .cloned())
    }
}
