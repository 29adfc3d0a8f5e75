//! `POST /v1/jobs` and `GET /v1/jobs/{job_id}`: any intent as a background job.
//!
//! The whole function: logging, configuration and clients once per cold start, then the shared
//! HTTP boundary. All behaviour lives in the `shared` crate (`shared::jobs`); the intents run in
//! the job worker, so this function carries no intent engine.

use shared::http::{App, run};
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    let app = App::from_env(Function::Jobs)
        .await
        .and_then(App::with_jobs)
        .map_err(|e| {
            tracing::error!(error = format!("{e:#}"), "cold start failed");
            e
        })?;
    run(app).await
}
