//! The job worker: consumes the job queue (and its dead-letter queue) through Lambda's SQS event
//! source mapping, with partial batch failures.
//!
//! The whole function: logging, configuration, stores and the intent engine once per cold start,
//! then the shared worker loop (`shared::jobs::worker`).

use shared::embed::MiniLm;
use shared::jobs::worker::{Worker, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::observability::init();
    let worker = Worker::from_env(MiniLm::load)
        .await
        .map_err(|e: anyhow::Error| {
            tracing::error!(error = format!("{e:#}"), "cold start failed");
            e
        })?;
    run(worker).await
}
