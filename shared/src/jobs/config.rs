//! The jobs settings, read once per cold start. A missing or malformed value stops the cold start
//! with a message naming the variable.

use std::time::Duration;

use crate::config::ConfigError;
use crate::contract::limits::JOB_DEFAULT_TTL_DAYS;

#[derive(Debug, Clone, PartialEq)]
pub struct JobsConfig {
    /// `JOBS_TABLE`: the jobs table.
    pub table: String,
    /// `JOB_BUCKET`: where payloads above the item limit go.
    pub bucket: String,
    /// `JOB_TTL_DAYS` (1–90, default 7): how long a job, its result and its idempotency key are
    /// kept. The bucket's lifecycle rule must expire objects after the same time.
    pub ttl_days: u32,
}

/// What the jobs function needs beyond [`JobsConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitConfig {
    /// `JOB_QUEUE_URL`: where job messages go.
    pub queue_url: String,
}

/// What the worker needs beyond [`JobsConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// `JOB_LEASE_SECONDS` (10–900, default 900): how long an attempt owns a job; set it to the
    /// worker's timeout, so a lease outlives any live attempt and expires before the message
    /// becomes visible again (the visibility timeout is 6× the worker timeout).
    pub lease: Duration,
    /// `JOB_DLQ_ARN`: records from this queue are dead letters (the job is failed, not run).
    pub dlq_arn: Option<String>,
}

fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    why: &'static str,
) -> Result<String, ConfigError> {
    get(name).ok_or(ConfigError::Missing { name, why })
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                value: v,
                expected: "a whole number in the documented range",
            }),
        },
    }
}

/// Trims values and treats empty ones as unset, like the main configuration.
fn trimmed(get: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

impl JobsConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<JobsConfig, ConfigError> {
        let get = trimmed(get);
        Ok(JobsConfig {
            table: required(&get, "JOBS_TABLE", "jobs are stored in this DynamoDB table")?,
            bucket: required(
                &get,
                "JOB_BUCKET",
                "job payloads above DynamoDB's item limit are stored in this S3 bucket",
            )?,
            ttl_days: number(
                &get,
                "JOB_TTL_DAYS",
                u64::from(JOB_DEFAULT_TTL_DAYS),
                1..=90,
            )? as u32,
        })
    }
}

impl SubmitConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<SubmitConfig, ConfigError> {
        let get = trimmed(get);
        Ok(SubmitConfig {
            queue_url: required(
                &get,
                "JOB_QUEUE_URL",
                "submitted jobs are sent to this SQS queue",
            )?,
        })
    }
}

impl WorkerConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<WorkerConfig, ConfigError> {
        let get = trimmed(get);
        Ok(WorkerConfig {
            lease: Duration::from_secs(number(&get, "JOB_LEASE_SECONDS", 900, 10..=900)?),
            dlq_arn: get("JOB_DLQ_ARN"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_settings_name_their_variable() {
        let err =
            JobsConfig::from_lookup(env(&[("JOB_BUCKET", "b")])).expect_err("must be rejected");
        assert!(matches!(
            err,
            ConfigError::Missing {
                name: "JOBS_TABLE",
                ..
            }
        ));
        let err = JobsConfig::from_lookup(env(&[("JOBS_TABLE", "t"), ("JOB_BUCKET", " ")]))
            .expect_err("must be rejected");
        assert!(matches!(
            err,
            ConfigError::Missing {
                name: "JOB_BUCKET",
                ..
            }
        ));
        let err = SubmitConfig::from_lookup(env(&[])).expect_err("must be rejected");
        assert!(matches!(
            err,
            ConfigError::Missing {
                name: "JOB_QUEUE_URL",
                ..
            }
        ));
    }

    #[test]
    fn reads_defaults_and_rejects_out_of_range_numbers() {
        let c = JobsConfig::from_lookup(env(&[("JOBS_TABLE", "t"), ("JOB_BUCKET", "b")]))
            .expect("must succeed");
        assert_eq!(c.ttl_days, 7);
        let err = JobsConfig::from_lookup(env(&[
            ("JOBS_TABLE", "t"),
            ("JOB_BUCKET", "b"),
            ("JOB_TTL_DAYS", "0"),
        ]))
        .expect_err("must be rejected");
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "JOB_TTL_DAYS",
                ..
            }
        ));
        let w =
            WorkerConfig::from_lookup(env(&[("JOB_LEASE_SECONDS", "60")])).expect("must succeed");
        assert_eq!(w.lease, Duration::from_secs(60));
        assert_eq!(w.dlq_arn, None);
        let err = WorkerConfig::from_lookup(env(&[("JOB_LEASE_SECONDS", "1h")]))
            .expect_err("must be rejected");
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "JOB_LEASE_SECONDS",
                ..
            }
        ));
    }
}
