//! `POST /v1/summarize`: extractive summary of a document, optionally focused on a query.
//!
//! The whole function: logging, configuration, clients and the intent engine once per cold
//! start, then the shared HTTP boundary. All behaviour lives in the `shared` crate.

use shared::embed::MiniLm;
use shared::http::{App, run};
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    let app = async {
        App::from_env(Function::Summarize)
            .await?
            .with_intent_provider(MiniLm::load)
            .await
    }
    .await
    .map_err(|e: anyhow::Error| {
        tracing::error!(error = format!("{e:#}"), "cold start failed");
        e
    })?;
    run(app).await
}
