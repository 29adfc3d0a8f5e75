//! `POST /v1/score`: documents scored and reranked for relevance to a query.
//!
//! The whole function: logging, configuration and clients once per cold start, then the shared
//! HTTP boundary. All behaviour lives in the `shared` crate.

use shared::http::{App, run};
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    let app = App::from_env(Function::Score).await.map_err(|e| {
        tracing::error!(error = format!("{e:#}"), "cold start failed");
        e
    })?;
    run(app).await
}
